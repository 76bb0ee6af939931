SELECT seller, to_timestamp_millis(slot * 10000) AS starttime,
       to_timestamp_millis(slot * 10000 + 10000) AS endtime
FROM (SELECT seller, CAST(datetime AS BIGINT) / 10000 AS slot FROM auction) AS w
GROUP BY seller, slot
