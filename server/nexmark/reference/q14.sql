-- HOUR through date_part, and the 'c' count as the pieces of extra split at 'c', minus one.
SELECT auction, bidder, 0.908 * price AS price,
       CASE
           WHEN date_part('hour', datetime) BETWEEN 8 AND 18 THEN 'dayTime'
           WHEN date_part('hour', datetime) <= 6 OR date_part('hour', datetime) >= 20 THEN 'nightTime'
           ELSE 'otherTime'
       END AS bidtimetype,
       datetime, extra,
       CAST(array_length(string_to_array(extra, 'c')) - 1 AS BIGINT) AS c_counts
FROM bid
WHERE 0.908 * price > 1000000 AND 0.908 * price < 50000000
