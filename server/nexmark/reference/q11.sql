-- SESSION(10 s) per bidder written out: a bid starts a new session when it comes 10 seconds
-- or more after the bidder's previous bid; a session ends 10 seconds after its last bid.
SELECT bidder, COUNT(*) AS bid_count, MIN(datetime) AS starttime,
       to_timestamp_millis(MAX(CAST(datetime AS BIGINT)) + 10000) AS endtime
FROM (
    SELECT bidder, datetime,
           SUM(CASE WHEN gap IS NULL OR gap >= 10000 THEN 1 ELSE 0 END)
               OVER (PARTITION BY bidder ORDER BY datetime
                     ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS session
    FROM (
        SELECT bidder, datetime,
               CAST(datetime AS BIGINT)
                   - CAST(LAG(datetime) OVER (PARTITION BY bidder ORDER BY datetime) AS BIGINT) AS gap
        FROM bid
    ) AS g
) AS s
GROUP BY bidder, session
