-- The seed example: run it with `runnel run examples/orders/revenue.sql` from the repository root.
CREATE TABLE orders (
  order_id STRING,
  customer_id STRING,
  total_amount DECIMAL(10, 2),
  order_time TIMESTAMP(3),
  amount_x2 AS total_amount * 2,                                   -- computed column
  WATERMARK FOR order_time AS order_time - INTERVAL '5' SECOND
) WITH ('connector' = 'filesystem', 'path' = 'examples/orders/data/orders.jsonl', 'format' = 'json',
        'json.timestamp-format.standard' = 'ISO-8601');

-- group-window form
SELECT TUMBLE_START(order_time, INTERVAL '5' MINUTE) AS window_start,
       TUMBLE_END(order_time, INTERVAL '5' MINUTE) AS window_end,
       customer_id, COUNT(*) AS order_count, SUM(total_amount) AS total
FROM orders GROUP BY TUMBLE(order_time, INTERVAL '5' MINUTE), customer_id;

-- window TVF form
SELECT window_start, window_end, customer_id, COUNT(*), SUM(total_amount)
FROM TABLE(HOP(TABLE orders, DESCRIPTOR(order_time), INTERVAL '1' MINUTE, INTERVAL '10' MINUTES))
GROUP BY window_start, window_end, customer_id;
