//! `pg_get_function_result(oid)` and `pg_get_function_arguments(oid)`: the signature text
//! psql's `\df` and BI tools show for a function, derived from the emulated `pg_proc`.
//!
//! `pg_proc` is static in Runnel (the built-in functions), so the texts are computed once
//! when the session template is built and looked up by OID afterwards.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, StringBuilder};
use datafusion::arrow::datatypes::{DataType, Int32Type};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, ScalarUDF, Volatility, create_udf};
use datafusion::prelude::SessionContext;

/// Signature texts of one `pg_proc` row.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Signature {
    /// `pg_get_function_result`: NULL for procedures.
    result: Option<String>,
    /// `pg_get_function_arguments`.
    arguments: String,
}

/// One `pg_proc` row, as far as its signature goes.
#[derive(Debug, Default)]
struct ProcRow<'a> {
    kind: &'a str,
    returns_set: bool,
    return_type: Option<i32>,
    /// `proargtypes`: the input argument types, an `oidvector` ("26 23").
    input_types: &'a str,
    /// `proallargtypes`, when some arguments are not IN: "[2277, 2283, 23]".
    all_types: Option<&'a str>,
    /// `proargmodes`: "['i', 'o', 'o']".
    modes: Option<&'a str>,
    /// `proargnames`: "['', 'x', 'n']".
    names: Option<&'a str>,
}

/// Registers both functions on `ctx`, whose `pg_catalog` must already be set up.
pub async fn register(ctx: &SessionContext) -> Result<()> {
    let signatures = Arc::new(load(ctx).await?);
    let results = signatures.clone();
    ctx.register_udf(lookup_udf("pg_get_function_result", move |oid| {
        results.get(&oid).and_then(|s| s.result.clone())
    }));
    ctx.register_udf(lookup_udf("pg_get_function_arguments", move |oid| {
        signatures.get(&oid).map(|s| s.arguments.clone())
    }));
    Ok(())
}

async fn load(ctx: &SessionContext) -> Result<HashMap<i32, Signature>> {
    let types = ctx
        .sql("SELECT oid, format_type(oid, NULL), typname FROM pg_catalog.pg_type")
        .await?
        .collect()
        .await?;
    let mut type_names = HashMap::new();
    for batch in &types {
        let oids = batch.column(0).as_primitive::<Int32Type>();
        let formatted = batch.column(1).as_string::<i32>();
        let names = batch.column(2).as_string::<i32>();
        for row in 0..batch.num_rows() {
            // The emulation's format_type spells pseudo-types (anyelement, ...) as `oid(n)`;
            // PostgreSQL shows their type name.
            let name = if !formatted.is_null(row) && !formatted.value(row).starts_with("oid(") {
                formatted.value(row)
            } else if !names.is_null(row) {
                names.value(row)
            } else {
                continue;
            };
            if !oids.is_null(row) {
                type_names.insert(oids.value(row), name.to_string());
            }
        }
    }
    let procs = ctx
        .sql(
            "SELECT oid, CAST(prokind AS TEXT), proretset, prorettype, \
             CAST(proargtypes AS TEXT), CAST(proallargtypes AS TEXT), \
             CAST(proargmodes AS TEXT), CAST(proargnames AS TEXT) FROM pg_catalog.pg_proc",
        )
        .await?
        .collect()
        .await?;
    let mut signatures = HashMap::new();
    for batch in &procs {
        let oids = batch.column(0).as_primitive::<Int32Type>();
        let sets = batch.column(2).as_boolean();
        let returns = batch.column(3).as_primitive::<Int32Type>();
        let text = |column: usize, row: usize| {
            let array = batch.column(column).as_string::<i32>();
            (!array.is_null(row)).then(|| array.value(row))
        };
        for row in 0..batch.num_rows() {
            if oids.is_null(row) {
                continue;
            }
            let proc = ProcRow {
                kind: text(1, row).unwrap_or("f"),
                returns_set: !sets.is_null(row) && sets.value(row),
                return_type: (!returns.is_null(row)).then(|| returns.value(row)),
                input_types: text(4, row).unwrap_or(""),
                all_types: text(5, row),
                modes: text(6, row),
                names: text(7, row),
            };
            signatures.insert(oids.value(row), signature(&proc, &type_names));
        }
    }
    Ok(signatures)
}

/// A text-valued function of an OID, answered from a lookup.
fn lookup_udf(
    name: &str,
    lookup: impl Fn(i32) -> Option<String> + Send + Sync + 'static,
) -> ScalarUDF {
    create_udf(
        name,
        vec![DataType::Int32],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |args: &[ColumnarValue]| match args.first() {
            Some(ColumnarValue::Scalar(ScalarValue::Int32(oid))) => Ok(ColumnarValue::Scalar(
                ScalarValue::Utf8(oid.and_then(&lookup)),
            )),
            Some(ColumnarValue::Array(array)) => {
                let oids = array.as_primitive::<Int32Type>();
                let mut out = StringBuilder::with_capacity(oids.len(), oids.len() * 16);
                for row in 0..oids.len() {
                    out.append_option(
                        (!oids.is_null(row))
                            .then(|| lookup(oids.value(row)))
                            .flatten(),
                    );
                }
                Ok(ColumnarValue::Array(Arc::new(out.finish())))
            }
            _ => Ok(ColumnarValue::Scalar(ScalarValue::Utf8(None))),
        }),
    )
}

/// One argument of a function, as `pg_get_function_arguments` and the `TABLE(...)` result show it.
struct Argument<'a> {
    mode: char,
    name: &'a str,
    type_oid: i32,
}

fn signature(proc: &ProcRow<'_>, type_names: &HashMap<i32, String>) -> Signature {
    let type_name = |oid: i32| {
        type_names
            .get(&oid)
            .cloned()
            .unwrap_or_else(|| oid.to_string())
    };
    let arguments = arguments(proc);
    let declared = |argument: &Argument<'_>| {
        if argument.name.is_empty() {
            type_name(argument.type_oid)
        } else {
            format!("{} {}", argument.name, type_name(argument.type_oid))
        }
    };
    let listed: Vec<String> = arguments
        .iter()
        .filter(|a| a.mode != 't')
        .map(|a| {
            let prefix = match a.mode {
                'o' => "OUT ",
                'b' => "INOUT ",
                'v' => "VARIADIC ",
                _ => "",
            };
            format!("{prefix}{}", declared(a))
        })
        .collect();
    let table_columns: Vec<String> = arguments
        .iter()
        .filter(|a| a.mode == 't')
        .map(&declared)
        .collect();
    let result = match proc.kind {
        "p" => None,
        _ if proc.returns_set && !table_columns.is_empty() => {
            Some(format!("TABLE({})", table_columns.join(", ")))
        }
        _ => proc.return_type.map(|oid| {
            let name = type_name(oid);
            if proc.returns_set {
                format!("SETOF {name}")
            } else {
                name
            }
        }),
    };
    Signature {
        result,
        arguments: listed.join(", "),
    }
}

/// The arguments of `proc` in declaration order: all of them (with modes) when
/// `proallargtypes` is set, else the input types as IN arguments.
fn arguments<'a>(proc: &ProcRow<'a>) -> Vec<Argument<'a>> {
    let names = proc.names.map(list_items).unwrap_or_default();
    let types: Vec<i32> = match proc.all_types {
        Some(all) => list_items(all)
            .iter()
            .filter_map(|t| t.parse().ok())
            .collect(),
        None => proc
            .input_types
            .split_whitespace()
            .filter_map(|t| t.parse().ok())
            .collect(),
    };
    let modes = proc.modes.map(list_items).unwrap_or_default();
    types
        .into_iter()
        .enumerate()
        .map(|(i, type_oid)| Argument {
            mode: modes.get(i).and_then(|m| m.chars().next()).unwrap_or('i'),
            name: names.get(i).copied().unwrap_or(""),
            type_oid,
        })
        .collect()
}

/// The items of an array as the `pg_proc` export writes it: `['a', 'b']`, `[1, 2]` or `{a,b}`.
fn list_items(text: &str) -> Vec<&str> {
    let inner = text
        .trim()
        .trim_start_matches(['[', '{'])
        .trim_end_matches([']', '}']);
    if inner.trim().is_empty() {
        return Vec::new();
    }
    inner
        .split(',')
        .map(|item| item.trim().trim_matches(['\'', '"']))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> HashMap<i32, String> {
        [
            (23, "integer"),
            (25, "text"),
            (26, "oid"),
            (2249, "record"),
            (2277, "anyarray"),
            (2283, "anyelement"),
        ]
        .into_iter()
        .map(|(oid, name)| (oid, name.to_string()))
        .collect()
    }

    #[test]
    fn plain_function_lists_named_and_unnamed_inputs() {
        let proc = ProcRow {
            kind: "f",
            return_type: Some(23),
            input_types: "26 23",
            names: Some("['typid', 'typmod']"),
            ..ProcRow::default()
        };
        let signature = signature(&proc, &names());
        assert_eq!(signature.result.as_deref(), Some("integer"));
        assert_eq!(signature.arguments, "typid oid, typmod integer");

        let unnamed = ProcRow {
            kind: "f",
            return_type: Some(25),
            input_types: "26 23",
            ..ProcRow::default()
        };
        assert_eq!(signature_args(&unnamed), "oid, integer");
    }

    fn signature_args(proc: &ProcRow<'_>) -> String {
        signature(proc, &names()).arguments
    }

    #[test]
    fn out_arguments_and_sets() {
        // information_schema._pg_expandarray(anyarray, OUT x anyelement, OUT n integer)
        let proc = ProcRow {
            kind: "f",
            returns_set: true,
            return_type: Some(2249),
            input_types: "2277",
            all_types: Some("[2277, 2283, 23]"),
            modes: Some("['i', 'o', 'o']"),
            names: Some("['', 'x', 'n']"),
        };
        let signature = signature(&proc, &names());
        assert_eq!(signature.result.as_deref(), Some("SETOF record"));
        assert_eq!(
            signature.arguments,
            "anyarray, OUT x anyelement, OUT n integer"
        );
    }

    #[test]
    fn table_results_and_procedures() {
        let proc = ProcRow {
            kind: "f",
            returns_set: true,
            return_type: Some(2249),
            input_types: "25",
            all_types: Some("{25,23,25}"),
            modes: Some("{i,t,t}"),
            names: Some("{pattern,n,label}"),
        };
        let signature = signature(&proc, &names());
        assert_eq!(
            signature.result.as_deref(),
            Some("TABLE(n integer, label text)")
        );
        assert_eq!(signature.arguments, "pattern text");

        let procedure = ProcRow {
            kind: "p",
            input_types: "23",
            ..ProcRow::default()
        };
        assert_eq!(super::signature(&procedure, &names()).result, None);
    }
}
