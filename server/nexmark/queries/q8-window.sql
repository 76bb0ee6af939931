-- The window parts of query 8: sellers per 10-second window (the person side, grouped by id
-- and name, is the same shape over the 2% of events that are people).
CREATE TABLE nexmark_q8_window (seller BIGINT, starttime TIMESTAMP(3), endtime TIMESTAMP(3))
WITH ('connector' = 'blackhole');

INSERT INTO nexmark_q8_window
SELECT seller, window_start AS starttime, window_end AS endtime
FROM TABLE(TUMBLE(TABLE auction, DESCRIPTOR(dateTime), INTERVAL '10' SECOND))
GROUP BY seller, window_start, window_end;
