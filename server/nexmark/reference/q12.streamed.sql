-- q12's streamed rows, summarized for comparison with q12.sql: the counts per bidder, and
-- whether every window is a 10-second window starting on the 10-second grid.
SELECT bidder, SUM(bid_count) AS bids,
       BOOL_AND(CAST(endtime AS BIGINT) - CAST(starttime AS BIGINT) = 10000
                AND CAST(starttime AS BIGINT) % 10000 = 0) AS windows_on_the_grid
FROM streamed
GROUP BY bidder
