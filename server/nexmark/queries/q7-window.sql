-- The window part of query 7: the highest price of each 10-second window.
CREATE TABLE nexmark_q7_window (maxprice BIGINT, dateTime TIMESTAMP(3))
WITH ('connector' = 'blackhole');

INSERT INTO nexmark_q7_window
SELECT MAX(price) AS maxprice, window_end AS dateTime
FROM TABLE(TUMBLE(TABLE bid, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
GROUP BY window_start, window_end;
