-- HOP(2 s, 10 s) written out: each bid is in the five windows starting at its 2-second slot
-- and the four slots before it.
SELECT auction, COUNT(*) AS num,
       to_timestamp_millis(slot * 2000) AS starttime,
       to_timestamp_millis(slot * 2000 + 10000) AS endtime
FROM (
    SELECT auction, CAST(datetime AS BIGINT) / 2000 - k.k AS slot
    FROM bid CROSS JOIN (VALUES (0), (1), (2), (3), (4)) AS k(k)
) AS w
GROUP BY auction, slot
