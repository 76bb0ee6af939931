-- TUMBLE(10 s) written out: the window is the 10-second slot of the bid's time.
SELECT MAX(price) AS maxprice, to_timestamp_millis(slot * 10000 + 10000) AS datetime
FROM (SELECT price, CAST(datetime AS BIGINT) / 10000 AS slot FROM bid) AS w
GROUP BY slot
