//! The DataFusion session every connection starts from.
//!
//! It resolves `runnel.public.*` to the user [`Catalog`], adds DataFusion's
//! `information_schema` and the `pg_catalog` emulation of `datafusion-pg-catalog` (tables,
//! functions such as `format_type` and `pg_get_userbyid`, `regclass` casts), and the functions
//! PostgreSQL clients call on connect that the emulation leaves out (`version()`).

pub mod function_signatures;
pub mod functions;
pub mod jobs;
pub mod relkind;

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::catalog::{
    CatalogProvider, MemoryCatalogProvider, MemoryCatalogProviderList, MemorySchemaProvider,
    SchemaProvider,
};
use datafusion::execution::SessionState;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::scalar::ScalarValue;
use datafusion_pg_catalog::pg_catalog::context::{PgCatalogContextProvider, Role};
use datafusion_pg_catalog::pg_catalog::oid_type_planner::PgOidTypePlanner;
use datafusion_pg_catalog::setup_pg_catalog;
use runnel_sql::types::RunnelTypePlanner;
use runnel_sql::{Catalog, DATABASE, DEFAULT_SCHEMA, SqlError, SqlState};

use crate::job::JobManager;

/// The schema of Runnel's own system tables (`runnel_catalog.jobs`).
pub const RUNNEL_CATALOG_SCHEMA: &str = "runnel_catalog";

/// The single role Runnel knows until authentication arrives.
pub const DEFAULT_USER: &str = "runnel";

/// Roles for `pg_roles`/`pg_user`: the default superuser.
#[derive(Debug, Clone)]
struct Roles;

#[async_trait]
impl PgCatalogContextProvider for Roles {
    async fn roles(&self) -> Vec<String> {
        vec![DEFAULT_USER.to_string()]
    }

    async fn role(&self, name: &str) -> Option<Role> {
        (name == DEFAULT_USER).then(|| Role {
            name: DEFAULT_USER.to_string(),
            is_superuser: true,
            can_login: true,
            can_create_db: true,
            can_create_role: true,
            can_create_user: true,
            can_replication: false,
            grants: Vec::new(),
            inherited_roles: Vec::new(),
        })
    }
}

/// Builds the template session state over `catalog`.
pub async fn build_session_state(
    catalog: Arc<Catalog>,
    jobs: Arc<JobManager>,
) -> Result<SessionState, SqlError> {
    let mut config = SessionConfig::new()
        .with_default_catalog_and_schema(DATABASE, DEFAULT_SCHEMA)
        .with_create_default_catalog_and_schema(false)
        .with_information_schema(true);
    // Keep source spans in plans, so planning errors can point into the statement.
    config.options_mut().sql_parser.collect_spans = true;
    // Text columns as plain Utf8: what Runnel tables store and what clients get as `text`.
    config.options_mut().sql_parser.map_string_types_to_utf8view = false;
    // `TIMESTAMPTZ` values are instants; they are planned in UTC and shown in the session's
    // `TimeZone` by the wire layer.
    config.options_mut().execution.time_zone = Some("+00:00".to_string());
    // `1.5` is a numeric literal in PostgreSQL, not a float: keep its exact digits.
    config.options_mut().sql_parser.parse_float_as_decimal = true;

    let database = Arc::new(MemoryCatalogProvider::new());
    database
        .register_schema(DEFAULT_SCHEMA, catalog.clone())
        .map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.strip_backtrace()))?;
    let runnel_catalog = Arc::new(MemorySchemaProvider::new());
    runnel_catalog
        .register_table("jobs".to_string(), Arc::new(jobs::JobsTable::new(jobs)))
        .map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.strip_backtrace()))?;
    database
        .register_schema(RUNNEL_CATALOG_SCHEMA, runnel_catalog)
        .map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.strip_backtrace()))?;
    let catalogs = Arc::new(MemoryCatalogProviderList::new());
    datafusion::catalog::CatalogProviderList::register_catalog(
        catalogs.as_ref(),
        DATABASE.to_string(),
        database.clone(),
    );

    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_catalog_list(catalogs)
        .with_default_features()
        .build();
    let ctx = SessionContext::new_with_state(state);
    setup_pg_catalog(&ctx, DATABASE, Roles).map_err(|e| {
        SqlError::new(
            SqlState::INTERNAL_ERROR,
            format!("pg_catalog setup failed: {e}"),
        )
    })?;
    let internal = |message: String| SqlError::new(SqlState::INTERNAL_ERROR, message);
    let pg_catalog = database
        .schema("pg_catalog")
        .ok_or_else(|| internal("pg_catalog setup registered no schema".into()))?;
    let pg_catalog = relkind::PgCatalogWithViews::new(pg_catalog, catalog)
        .await
        .map_err(|e| internal(e.strip_backtrace()))?;
    database
        .register_schema("pg_catalog", Arc::new(pg_catalog))
        .map_err(|e| internal(e.strip_backtrace()))?;
    ctx.register_udf(version_udf());
    ctx.register_udf(to_regtype_udf());
    for function in functions::all() {
        ctx.register_udf(function);
    }
    function_signatures::register(&ctx).await.map_err(|e| {
        SqlError::new(
            SqlState::INTERNAL_ERROR,
            format!("pg_catalog function signatures: {}", e.strip_backtrace()),
        )
    })?;

    let state = ctx.state();
    let mut state = SessionStateBuilder::new_from_existing(state)
        .with_type_planner(Arc::new(RunnelTypePlanner::new(Some(Arc::new(
            PgOidTypePlanner,
        )))))
        .build();
    // Flink's functions last: the rebuild above registers the functions again in no set order,
    // and DataFusion's `to_char` has the alias `date_format`, which Flink's must replace.
    for function in runnel_sql::functions::all() {
        datafusion::execution::FunctionRegistry::register_udf(&mut state, function)
            .map_err(|e| SqlError::new(SqlState::INTERNAL_ERROR, e.strip_backtrace()))?;
    }
    Ok(state)
}

/// `version()`: clients parse the leading `PostgreSQL <version>`.
fn version_udf() -> ScalarUDF {
    let text = format!(
        "PostgreSQL {} (Runnel {}) on {}-{}, compiled by rustc",
        crate::PG_SERVER_VERSION,
        crate::VERSION,
        std::env::consts::ARCH,
        std::env::consts::OS
    );
    create_udf(
        "version",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_args: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(text.clone()))))
        }),
    )
}

/// Built-in type names (as `to_regtype` and casts accept them) and their OIDs.
const TYPE_OIDS: &[(&str, i32)] = &[
    ("bool", 16),
    ("boolean", 16),
    ("bytea", 17),
    ("char", 18),
    ("name", 19),
    ("int8", 20),
    ("bigint", 20),
    ("int2", 21),
    ("smallint", 21),
    ("int4", 23),
    ("integer", 23),
    ("int", 23),
    ("text", 25),
    ("oid", 26),
    ("json", 114),
    ("float4", 700),
    ("real", 700),
    ("float8", 701),
    ("double precision", 701),
    ("varchar", 1043),
    ("character varying", 1043),
    ("bpchar", 1042),
    ("character", 1042),
    ("date", 1082),
    ("time", 1083),
    ("time without time zone", 1083),
    ("timestamp", 1114),
    ("timestamp without time zone", 1114),
    ("timestamptz", 1184),
    ("timestamp with time zone", 1184),
    ("interval", 1186),
    ("numeric", 1700),
    ("decimal", 1700),
    ("uuid", 2950),
    ("jsonb", 3802),
    ("regclass", 2205),
    ("regtype", 2206),
    ("record", 2249),
];

/// `to_regtype(name)`: the OID of a built-in type, or NULL (drivers probe for extension types
/// such as `hstore` with it and expect NULL when absent).
fn to_regtype_udf() -> ScalarUDF {
    use datafusion::arrow::array::{Array, AsArray, Int32Builder};
    create_udf(
        "to_regtype",
        vec![DataType::Utf8],
        DataType::Int32,
        Volatility::Stable,
        Arc::new(|args: &[ColumnarValue]| {
            let lookup = |name: &str| {
                let name = name
                    .trim()
                    .trim_start_matches("pg_catalog.")
                    .to_ascii_lowercase();
                TYPE_OIDS
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, oid)| *oid)
            };
            match args.first() {
                Some(ColumnarValue::Scalar(ScalarValue::Utf8(name))) => Ok(ColumnarValue::Scalar(
                    ScalarValue::Int32(name.as_deref().and_then(lookup)),
                )),
                Some(ColumnarValue::Array(array)) => {
                    let names = array.as_string::<i32>();
                    let mut builder = Int32Builder::with_capacity(names.len());
                    for i in 0..names.len() {
                        builder.append_option(
                            (!names.is_null(i))
                                .then(|| lookup(names.value(i)))
                                .flatten(),
                        );
                    }
                    Ok(ColumnarValue::Array(Arc::new(builder.finish())))
                }
                _ => Ok(ColumnarValue::Scalar(ScalarValue::Int32(None))),
            }
        }),
    )
}
