SELECT auction, bidder, price, datetime, extra,
       to_char(datetime, '%Y-%m-%d') AS dt, to_char(datetime, '%H:%M') AS hm
FROM bid
