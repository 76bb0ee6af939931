-- The Nexmark views for the reference computations, in plain DataFusion SQL over the
-- materialized `nexmark` table (its physical columns and the computed datetime).
CREATE VIEW person AS
SELECT person.id AS id, person.name AS name, person.emailaddress AS emailaddress,
       person.creditcard AS creditcard, person.city AS city, person.state AS state, datetime,
       person.extra AS extra
FROM nexmark WHERE event_type = 0;

CREATE VIEW auction AS
SELECT auction.id AS id, auction.itemname AS itemname, auction.description AS description,
       auction.initialbid AS initialbid, auction.reserve AS reserve, datetime,
       auction.expires AS expires, auction.seller AS seller, auction.category AS category,
       auction.extra AS extra
FROM nexmark WHERE event_type = 1;

CREATE VIEW bid AS
SELECT bid.auction AS auction, bid.bidder AS bidder, bid.price AS price, bid.channel AS channel,
       bid.url AS url, datetime, bid.extra AS extra
FROM nexmark WHERE event_type = 2;
