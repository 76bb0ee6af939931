use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::prelude::SessionContext;

async fn query(sql: &str) -> Result<String, String> {
    let ctx = SessionContext::new();
    for function in super::all() {
        ctx.register_udf(function.as_ref().clone());
    }
    let frame = ctx.sql(sql).await.map_err(|e| e.to_string())?;
    let batches = frame.collect().await.map_err(|e| e.to_string())?;
    Ok(pretty_format_batches(&batches)
        .map_err(|e| e.to_string())?
        .to_string())
}

/// The value of `SELECT <expr>` as text: `[text]`, or `NULL`.
async fn value(sql: &str) -> String {
    let expr = sql.strip_prefix("SELECT ").expect("SELECT <expr>");
    let wrapped = format!("SELECT COALESCE('[' || CAST(({expr}) AS VARCHAR) || ']', 'NULL') AS v");
    let table = query(&wrapped).await.expect("query runs");
    let line = table.lines().nth(3).expect("a row");
    line.trim_matches('|').trim().to_string()
}

#[tokio::test]
async fn split_index_follows_flink() {
    let url = "'https://www.nexmark.com/abc/de_f/gh/item.htm?query=1'";
    assert_eq!(
        value(&format!("SELECT SPLIT_INDEX({url}, '/', 3)")).await,
        "[abc]"
    );
    assert_eq!(
        value(&format!("SELECT SPLIT_INDEX({url}, '/', 5)")).await,
        "[gh]"
    );
    assert_eq!(
        value(&format!("SELECT SPLIT_INDEX({url}, '/', 1)")).await,
        "[]"
    );
    assert_eq!(
        value(&format!("SELECT SPLIT_INDEX({url}, '/', 9)")).await,
        "NULL"
    );
    assert_eq!(
        value(&format!("SELECT SPLIT_INDEX({url}, '/', -1)")).await,
        "NULL"
    );
    assert_eq!(value("SELECT SPLIT_INDEX('a::b::c', '::', 2)").await, "[c]");
    assert_eq!(value("SELECT SPLIT_INDEX('a/b', 47, 1)").await, "[b]");
    assert_eq!(value("SELECT SPLIT_INDEX(NULL, '/', 1)").await, "NULL");
}

#[tokio::test]
async fn regexp_extract_follows_flink() {
    assert_eq!(
        value("SELECT REGEXP_EXTRACT('foothebar', 'foo(.*?)(bar)', 2)").await,
        "[bar]"
    );
    assert_eq!(
        value("SELECT REGEXP_EXTRACT('foothebar', 'foo(.*?)(bar)', 1)").await,
        "[the]"
    );
    // Group 0, the default, is the whole match.
    assert_eq!(
        value("SELECT REGEXP_EXTRACT('foothebar', 'o+t')").await,
        "[oot]"
    );
    let url = "'https://www.nexmark.com/a/b/c/item.htm?query=1&channel_id=1234'";
    assert_eq!(
        value(&format!(
            "SELECT REGEXP_EXTRACT({url}, '(&|^)channel_id=([^&]*)', 2)"
        ))
        .await,
        "[1234]"
    );
    assert_eq!(
        value("SELECT REGEXP_EXTRACT('https://x/item.htm?query=1', '(&|^)channel_id=([^&]*)', 2)")
            .await,
        "NULL"
    );
    let error = query("SELECT REGEXP_EXTRACT('abc', 'a(b)', 2)")
        .await
        .expect_err("no group 2");
    assert!(error.contains("group 2 does not exist"), "{error}");
    let error = query("SELECT REGEXP_EXTRACT('abc', 'a(b')")
        .await
        .expect_err("malformed");
    assert!(error.contains("invalid regular expression"), "{error}");
}

#[tokio::test]
async fn date_format_reads_java_patterns() {
    let ts = "TIMESTAMP '2024-03-09 07:05:04.123'";
    assert_eq!(
        value(&format!("SELECT DATE_FORMAT({ts}, 'yyyy-MM-dd')")).await,
        "[2024-03-09]"
    );
    assert_eq!(
        value(&format!("SELECT DATE_FORMAT({ts}, 'HH:mm')")).await,
        "[07:05]"
    );
    assert_eq!(
        value(&format!(
            "SELECT DATE_FORMAT({ts}, 'yyyy-MM-dd HH:mm:ss.SSS')"
        ))
        .await,
        "[2024-03-09 07:05:04.123]"
    );
    assert_eq!(
        value(&format!(
            "SELECT DATE_FORMAT({ts}, 'd MMM yy, h a ''at'' E')"
        ))
        .await,
        "[9 Mar 24, 7 AM at Sat]"
    );
    assert_eq!(
        value("SELECT DATE_FORMAT('2024-01-02 03:04:05', 'yyyyMMddHHmmss')").await,
        "[20240102030405]"
    );
    let error = query(&format!("SELECT DATE_FORMAT({ts}, 'yyyy QQ')"))
        .await
        .expect_err("Q");
    assert!(error.contains("'QQ' are not supported"), "{error}");
}

#[tokio::test]
async fn hour_minute_second() {
    let ts = "TIMESTAMP '2024-03-09 17:05:04'";
    assert_eq!(value(&format!("SELECT HOUR({ts})")).await, "[17]");
    assert_eq!(value(&format!("SELECT MINUTE({ts})")).await, "[5]");
    assert_eq!(value(&format!("SELECT SECOND({ts})")).await, "[4]");
    assert_eq!(value("SELECT HOUR(CAST(NULL AS TIMESTAMP))").await, "NULL");
}

#[tokio::test]
async fn mod_keeps_the_sign_of_the_dividend() {
    assert_eq!(value("SELECT MOD(1230, 123)").await, "[0]");
    assert_eq!(value("SELECT MOD(1001, 123)").await, "[17]");
    assert_eq!(value("SELECT MOD(-7, 3)").await, "[-1]");
    assert_eq!(value("SELECT MOD(7.5, 2)").await, "[1.5]");
    assert_eq!(value("SELECT MOD(NULL, 2)").await, "NULL");
    let error = query("SELECT MOD(1, 0)").await.expect_err("zero divisor");
    assert!(error.to_lowercase().contains("divide by zero"), "{error}");
}

#[tokio::test]
async fn proctime_is_the_wall_clock_as_timestamp_ltz() {
    let before = runnel_engine::stream::watermark::wall_clock_millis();
    let millis: i64 = value("SELECT CAST(PROCTIME() AS BIGINT)")
        .await
        .trim_matches(|c| c == '[' || c == ']')
        .parse()
        .expect("milliseconds");
    let after = runnel_engine::stream::watermark::wall_clock_millis();
    assert!(
        (before..=after).contains(&millis),
        "{before} {millis} {after}"
    );
    assert_eq!(
        value("SELECT arrow_typeof(PROCTIME())").await,
        "[Timestamp(ms, \"+00:00\")]"
    );
    let error = query("SELECT PROCTIME(1)").await.expect_err("no arguments");
    assert!(error.to_lowercase().contains("proctime"), "{error}");
}
