//! Catalog statements: `CREATE TABLE`, `CREATE VIEW`, `DROP`, and the statements that describe
//! the catalog (`SHOW TABLES`, `SHOW CREATE`, `DESCRIBE`).
//!
//! Column types, `NOT NULL` and view bodies are planned by DataFusion (so a view is checked when
//! it is created, not when it is first read); this module decides what Runnel accepts and turns
//! the result into catalog objects.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::TableReference;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::execution::SessionState;
use datafusion::logical_expr::{DdlStatement, LogicalPlan};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    ColumnOption, CreateTable, CreateTableOptions, CreateView, Ident, ObjectName, ObjectType,
    Statement,
};

use crate::catalog::object::ObjectKind;
use crate::catalog::{Catalog, CatalogObject};
use crate::error::{SqlError, SqlState};
use crate::parser::{ParsedStatement, TextMap};
use crate::types::pg_type_name;
use crate::{DATABASE, DEFAULT_SCHEMA};

/// What a catalog statement did, for the command tag and any notices.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DdlOutcome {
    /// Notices to show the client (e.g. "... already exists, skipping").
    pub notices: Vec<String>,
    /// Rows written, for `CREATE TABLE AS`.
    pub rows: Option<u64>,
    /// Objects a `DROP` removed (with those its `CASCADE` took along).
    pub dropped: Vec<String>,
}

/// Resolves a possibly qualified object name to its unqualified catalog name, folding unquoted
/// identifiers to lower case as PostgreSQL does.
pub fn object_name(name: &ObjectName, text: &TextMap<'_>) -> Result<String, SqlError> {
    let parts: Vec<String> = name
        .0
        .iter()
        .filter_map(|part| part.as_ident())
        .map(normalize)
        .collect();
    if parts.len() != name.0.len() {
        return Err(SqlError::new(
            SqlState::SYNTAX_ERROR,
            format!("invalid name {name}"),
        ));
    }
    let (database, schema, object) = match parts.as_slice() {
        [object] => (None, None, object.clone()),
        [schema, object] => (None, Some(schema.clone()), object.clone()),
        [database, schema, object] => {
            (Some(database.clone()), Some(schema.clone()), object.clone())
        }
        _ => {
            return Err(SqlError::new(
                SqlState::SYNTAX_ERROR,
                format!("improper qualified name (too many dotted names): {name}"),
            ));
        }
    };
    if let Some(database) = database.filter(|d| d != DATABASE) {
        return Err(SqlError::unsupported(format!(
            "cross-database references are not implemented: {name}"
        ))
        .at(text.find_identifier(&database)));
    }
    if let Some(schema) = schema.filter(|s| s != DEFAULT_SCHEMA) {
        return Err(SqlError::new(
            SqlState::INVALID_SCHEMA_NAME,
            format!("schema \"{schema}\" does not exist"),
        )
        .with_hint("user objects live in schema \"public\"")
        .at(text.find_identifier(&schema)));
    }
    Ok(object)
}

fn normalize(ident: &Ident) -> String {
    match ident.quote_style {
        Some(_) => ident.value.clone(),
        None => ident.value.to_lowercase(),
    }
}

/// `CREATE TABLE name (columns)` and `CREATE TABLE name AS query`.
pub async fn create_table(
    state: &SessionState,
    catalog: &Catalog,
    create: &CreateTable,
    parsed: &ParsedStatement,
) -> Result<DdlOutcome, SqlError> {
    let text = parsed.text_map();
    let name = object_name(&create.name, &text)?;
    check_plain_table(create, &text)?;
    if catalog.get(&name).is_some() {
        if create.if_not_exists {
            return Ok(DdlOutcome {
                notices: vec![format!("relation \"{name}\" already exists, skipping")],
                rows: None,
                dropped: Vec::new(),
            });
        }
        return Err(SqlError::new(
            SqlState::DUPLICATE_TABLE,
            format!("relation \"{name}\" already exists"),
        )
        .at(text.find_identifier(&name)));
    }
    let plan = state
        .statement_to_plan(DfStatement::Statement(Box::new(Statement::CreateTable(
            create.clone(),
        ))))
        .await
        .map_err(|e| SqlError::from_datafusion(&e, &text))?;
    let LogicalPlan::Ddl(DdlStatement::CreateMemoryTable(planned)) = plan else {
        return Err(SqlError::new(
            SqlState::INTERNAL_ERROR,
            "CREATE TABLE did not plan to a table",
        ));
    };
    let schema: SchemaRef = Arc::new(planned.input.schema().as_arrow().clone());

    let (schema, definition, initial) = if create.query.is_some() {
        // CREATE TABLE AS: every column nullable, like PostgreSQL.
        let fields: Vec<Field> = schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect();
        let schema = Arc::new(Schema::new(fields));
        let physical = state
            .create_physical_plan(&planned.input)
            .await
            .map_err(|e| SqlError::from_datafusion(&e, &text))?;
        let batches = datafusion::physical_plan::collect(physical, state.task_ctx())
            .await
            .map_err(|e| SqlError::from_datafusion(&e, &text))?;
        let definition = render_create_table(&name, &schema);
        (schema, definition, batches)
    } else {
        (schema, parsed.statement.to_string(), Vec::new())
    };
    let rows = initial.iter().map(|b| b.num_rows() as u64).sum();
    catalog.create_table(&name, schema, definition, initial)?;
    Ok(DdlOutcome {
        notices: Vec::new(),
        rows: create.query.is_some().then_some(rows),
        dropped: Vec::new(),
    })
}

/// Rejects what a durable table cannot honour yet, naming it, instead of ignoring it.
fn check_plain_table(create: &CreateTable, text: &TextMap<'_>) -> Result<(), SqlError> {
    let unsupported = |what: &str| {
        Err(SqlError::unsupported(format!(
            "CREATE TABLE with {what} is not supported"
        )))
    };
    if create.temporary {
        return unsupported("TEMPORARY");
    }
    if create.external {
        return unsupported("EXTERNAL");
    }
    if create.like.is_some() || create.clone.is_some() {
        return unsupported("LIKE or CLONE");
    }
    if create.partition_by.is_some() || create.inherits.is_some() || create.partition_of.is_some() {
        return unsupported("partitioning or inheritance");
    }
    if !matches!(create.table_options, CreateTableOptions::None) {
        return Err(SqlError::unsupported(
            "CREATE TABLE ... WITH (...) declares a connector table, in Flink's form: WITH ('connector' = 'kafka' | 'filesystem' | 'datagen' | 'print' | 'blackhole', ...); tables without options are durable Runnel tables",
        ));
    }
    if let Some(constraint) = create.constraints.first() {
        return Err(SqlError::unsupported(format!(
            "table constraints are not enforced by Runnel tables yet: {constraint}"
        ))
        .with_hint("remove the constraint; NOT NULL column constraints are supported"));
    }
    for column in &create.columns {
        for option in &column.options {
            match &option.option {
                ColumnOption::Null | ColumnOption::NotNull => {}
                other => {
                    return Err(SqlError::unsupported(format!(
                        "column option {other} (on column {}) is not supported yet",
                        column.name
                    ))
                    .with_hint("only NULL and NOT NULL column options are supported")
                    .at(text.find_identifier(&column.name.value)));
                }
            }
        }
    }
    Ok(())
}

/// A `CREATE TABLE` statement for `schema`, for tables made by `CREATE TABLE AS`.
pub fn render_create_table(name: &str, schema: &Schema) -> String {
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let not_null = if f.is_nullable() { "" } else { " NOT NULL" };
            format!(
                "{} {}{not_null}",
                quote_ident(f.name()),
                pg_type_name(f).to_uppercase()
            )
        })
        .collect();
    format!(
        "CREATE TABLE {} ({})",
        quote_ident(name),
        columns.join(", ")
    )
}

fn quote_ident(name: &str) -> String {
    let plain = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        name.to_string()
    } else {
        format!("\"{}\"", name.replace('"', "\"\""))
    }
}

/// `CREATE [OR REPLACE] VIEW name [(columns)] AS query`.
pub async fn create_view(
    state: &SessionState,
    catalog: &Catalog,
    create: &CreateView,
    parsed: &ParsedStatement,
) -> Result<DdlOutcome, SqlError> {
    let text = parsed.text_map();
    if create.materialized {
        return Err(SqlError::new(
            SqlState::INTERNAL_ERROR,
            "materialized views are created by the session's streaming path",
        ));
    }
    let name = object_name(&create.name, &text)?;
    if create.if_not_exists && catalog.get(&name).is_some() {
        return Ok(DdlOutcome {
            notices: vec![format!("relation \"{name}\" already exists, skipping")],
            rows: None,
            dropped: Vec::new(),
        });
    }
    let plan = plan_view(state, &parsed.statement, &text).await?;
    catalog.create_view(&name, plan, parsed.text().to_string(), create.or_replace)?;
    Ok(DdlOutcome::default())
}

/// Plans a stored `CREATE VIEW` statement again (after a restart) and returns its query plan.
pub async fn plan_view_definition(
    state: &SessionState,
    definition: &str,
) -> Result<LogicalPlan, SqlError> {
    let mut statements = crate::parser::parse_statements(definition)?;
    let parsed = statements
        .pop()
        .ok_or_else(|| SqlError::new(SqlState::INTERNAL_ERROR, "empty view definition"))?;
    plan_view(state, &parsed.statement, &parsed.text_map()).await
}

async fn plan_view(
    state: &SessionState,
    statement: &Statement,
    text: &TextMap<'_>,
) -> Result<LogicalPlan, SqlError> {
    let plan = state
        .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
        .await
        .map_err(|e| SqlError::from_datafusion(&e, text))?;
    match plan {
        LogicalPlan::Ddl(DdlStatement::CreateView(view)) => Ok(view.input.as_ref().clone()),
        _ => Err(SqlError::new(
            SqlState::INTERNAL_ERROR,
            "CREATE VIEW did not plan to a view",
        )),
    }
}

/// The catalog objects (tables and views of `public`) that `plan` reads, including inside
/// subqueries.
pub fn referenced_objects(plan: &LogicalPlan, catalog: &Catalog) -> Vec<String> {
    let mut names = Vec::new();
    let _ = plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node
            && let Some(name) = user_object(&scan.table_name)
            && catalog.get(&name).is_some()
            && !names.contains(&name)
        {
            names.push(name);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    names
}

fn user_object(reference: &TableReference) -> Option<String> {
    let schema_ok = reference.schema().is_none_or(|s| s == DEFAULT_SCHEMA);
    let catalog_ok = reference.catalog().is_none_or(|c| c == DATABASE);
    (schema_ok && catalog_ok).then(|| reference.table().to_string())
}

/// `DROP TABLE|VIEW [IF EXISTS] names [CASCADE|RESTRICT]`.
pub fn drop_objects(
    catalog: &Catalog,
    object_type: ObjectType,
    names: &[ObjectName],
    if_exists: bool,
    cascade: bool,
    parsed: &ParsedStatement,
) -> Result<DdlOutcome, SqlError> {
    let text = parsed.text_map();
    let kind = match object_type {
        ObjectType::Table => ObjectKind::Table,
        ObjectType::View => ObjectKind::View,
        ObjectType::MaterializedView => ObjectKind::MaterializedView,
        other => {
            return Err(SqlError::unsupported(format!(
                "DROP {other} is not supported"
            )));
        }
    };
    let mut outcome = DdlOutcome::default();
    for name in names {
        let name = object_name(name, &text)?;
        let dropped = catalog
            .drop_object(&name, kind, if_exists, cascade)
            .map_err(|e| e.at(text.find_identifier(&name)))?;
        if dropped.is_empty() {
            outcome
                .notices
                .push(format!("{kind} \"{name}\" does not exist, skipping"));
        }
        for (other, other_kind) in dropped.iter().filter(|d| d.0 != name) {
            outcome
                .notices
                .push(format!("drop cascades to {other_kind} {other}"));
        }
        outcome.dropped.extend(dropped.into_iter().map(|d| d.0));
    }
    Ok(outcome)
}

/// `SHOW TABLES`: the user's tables and views with their kind.
pub fn show_tables(catalog: &Catalog) -> RecordBatch {
    let objects = catalog.objects();
    let names: Vec<String> = objects.iter().map(|o| o.def().name().to_string()).collect();
    let kinds: Vec<String> = objects.iter().map(|o| o.kind().to_string()).collect();
    string_batch(&["name", "kind"], vec![names, kinds])
}

/// `SHOW CREATE TABLE|VIEW name`: the statement that creates the object.
pub fn show_create(
    catalog: &Catalog,
    name: &ObjectName,
    parsed: &ParsedStatement,
) -> Result<RecordBatch, SqlError> {
    let text = parsed.text_map();
    let name = object_name(name, &text)?;
    let object = lookup(catalog, &name, &text)?;
    let def = object.def();
    Ok(string_batch(
        &["name", "create_statement"],
        vec![vec![name], vec![def.definition().to_string()]],
    ))
}

/// `DESCRIBE name`: one row per column with its PostgreSQL type and nullability.
pub fn describe(
    catalog: &Catalog,
    name: &ObjectName,
    parsed: &ParsedStatement,
) -> Result<RecordBatch, SqlError> {
    let text = parsed.text_map();
    let name = object_name(name, &text)?;
    let object = lookup(catalog, &name, &text)?;
    let schema = object.provider().schema();
    let mut columns = vec![Vec::new(), Vec::new(), Vec::new()];
    for field in schema.fields() {
        columns[0].push(field.name().clone());
        columns[1].push(pg_type_name(field));
        columns[2].push(if field.is_nullable() { "YES" } else { "NO" }.to_string());
    }
    Ok(string_batch(
        &["column_name", "data_type", "is_nullable"],
        columns,
    ))
}

fn lookup(catalog: &Catalog, name: &str, text: &TextMap<'_>) -> Result<CatalogObject, SqlError> {
    catalog.get(name).ok_or_else(|| {
        SqlError::new(
            SqlState::UNDEFINED_TABLE,
            format!("relation \"{name}\" does not exist"),
        )
        .at(text.find_identifier(name))
    })
}

/// A batch of non-null text columns (for statements that answer with a small table).
pub fn string_batch(names: &[&str], columns: Vec<Vec<String>>) -> RecordBatch {
    let fields: Vec<Field> = names
        .iter()
        .map(|n| Field::new(*n, DataType::Utf8, false))
        .collect();
    let arrays: Vec<ArrayRef> = columns
        .into_iter()
        .map(|values| Arc::new(StringArray::from(values)) as ArrayRef)
        .collect();
    let schema = Arc::new(Schema::new(fields));
    // Columns are built from the same names, with equal lengths, so this cannot fail; fall back
    // to an empty batch rather than panic if it ever did.
    RecordBatch::try_new(schema.clone(), arrays).unwrap_or_else(|_| RecordBatch::new_empty(schema))
}
