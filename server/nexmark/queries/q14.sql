-- Query 14: calculation. Bids in a price range with their time of day and a character count.
-- The Flink suite counts the 'c's of extra with a Java UDF (count_char); here the same count
-- is written in SQL: the length of extra minus its length without the 'c's.
CREATE TABLE nexmark_q14 (
    auction BIGINT, bidder BIGINT, price DOUBLE, bidTimeType VARCHAR, dateTime TIMESTAMP(3),
    extra VARCHAR, c_counts BIGINT
) WITH ('connector' = 'blackhole');

INSERT INTO nexmark_q14
SELECT auction, bidder, 0.908 * price AS price,
       CASE
           WHEN HOUR(dateTime) >= 8 AND HOUR(dateTime) <= 18 THEN 'dayTime'
           WHEN HOUR(dateTime) <= 6 OR HOUR(dateTime) >= 20 THEN 'nightTime'
           ELSE 'otherTime'
       END AS bidTimeType,
       dateTime, extra,
       CAST(CHAR_LENGTH(extra) - CHAR_LENGTH(REPLACE(extra, 'c', '')) AS BIGINT) AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000;
