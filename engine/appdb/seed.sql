-- Synthetic Tradeblock-shaped data, generated set-based inside PostgreSQL.
--
-- Executed step by step (a step starts at a "-- step: name" line) with client-side binding of
-- %(base)s (a 40-bit number derived from --seed, times 4096), %(as_of)s, %(users)s and
-- %(products)s; hence no percent sign appears anywhere else in this file.
--
-- Determinism: no random() and no now(). Every draw is pg_temp.r(salt, i), a hash of a row index
-- i under a per-column salt, and every id is pg_temp.id(salt, i), a uuid made of two such hashes.
-- Salts below 100 name the uuid of a table (1 users ... 17 device fingerprints); draws use
-- salts >= 100. A child row refers to its parent by recomputing the parent's id from its index,
-- so no lookups are needed and the same seed, size and as_of always give byte-identical data.
-- Dates are taken in UTC so the session time zone cannot change the data.
--
-- Shape: product popularity is Zipf-like (product 1 is the most popular, so the product with
-- the most offers in the last 7 days is, in practice, product 1); activity timestamps fall into
-- every window the audiences use (last 12 h, 12-36 h, 36-48 h, 2-7 d, 7-30 d, older); users
-- created 12 h - 14 d before as_of ("new") are spread over the five waterfall levels.

-- step: functions
CREATE FUNCTION pg_temp.r(salt int, i bigint) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT (hashint8extended(i, %(base)s + 1000 + salt) & 4503599627370495)::float8 / 4503599627370496.0
$$;

CREATE FUNCTION pg_temp.id(salt int, i bigint) RETURNS uuid
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT encode(int8send(hashint8extended(i, %(base)s + salt * 2))
                  || int8send(hashint8extended(i, %(base)s + salt * 2 + 1)), 'hex')::uuid
$$;

-- Unix epoch seconds of a time, the production soft-delete marker.
CREATE FUNCTION pg_temp.epoch(t timestamptz) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT extract(epoch FROM t)::integer $$;

-- as_of minus some hours.
CREATE FUNCTION pg_temp.before(hours float8) RETURNS timestamptz
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT %(as_of)s - hours * interval '1 hour'
$$;

-- Zipf-like product pick: P(product k) ~ 1/k, product 1 the most popular.
CREATE FUNCTION pg_temp.zipf(r float8) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT least(%(products)s, floor(exp(r * ln(%(products)s + 1)))::integer)
$$;

-- Age in hours of an activity row: a mixture that lands rows in every audience window.
CREATE FUNCTION pg_temp.window_hours(r1 float8, r2 float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN r1 < 0.015 THEN 12 * r2            -- last 12 h
        WHEN r1 < 0.035 THEN 12 + 24 * r2       -- 12-36 h
        WHEN r1 < 0.045 THEN 36 + 12 * r2       -- 36-48 h
        WHEN r1 < 0.09 THEN 48 + 120 * r2       -- 2-7 days
        WHEN r1 < 0.22 THEN 168 + 552 * r2      -- 7-30 days
        ELSE 720 + 26000 * r2                   -- older (up to ~3 years)
    END
$$;

-- The same, but never before the owner signed up (max_h = hours since signup).
CREATE FUNCTION pg_temp.ago(r1 float8, r2 float8, r3 float8, max_h float8) RETURNS float8
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN pg_temp.window_hours(r1, r2) < max_h THEN pg_temp.window_hours(r1, r2)
                ELSE max_h * r3 END
$$;

-- A size index s (0..22) is mens size 4 + s/2: 0 -> "4", 13 -> "10.5", 22 -> "15".
CREATE FUNCTION pg_temp.size_text(s integer, base integer) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN mod(s, 2) = 0 THEN (base + s / 2)::text ELSE (base + s / 2)::text || '.5' END
$$;

-- The product and size index an inventory item i of a user with preferred size index s has.
CREATE FUNCTION pg_temp.inv_product(i bigint) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT pg_temp.zipf(pg_temp.r(150, i)) $$;

CREATE FUNCTION pg_temp.inv_size(i bigint, s integer) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN pg_temp.r(151, i) < 0.8 THEN s ELSE floor(pg_temp.r(152, i) * 23)::integer END
$$;

-- step: users_plan
-- One row per user with everything the child tables need; pref_kind: 0 no user_preferences row,
-- 1 preferences but no size, 2 only a non-preferred mens size, 3 only a womens size,
-- 4 two preferred mens sizes (duplicate quirk), 5 preferred + related non-preferred, 6 one size.
-- cohort: 'fresh' (signed up < 12 h ago), 'new' (12 h - 14 days), 'old'. A new user's stage is the
-- waterfall level it is built for: 1 no closet, 2 closet but no bio, 3 bio but no offer,
-- 4 offers but only soft-deleted wishlist rows, 5 all of it.
CREATE TEMP TABLE seed_users AS
SELECT u, pg_temp.id(1, u) AS id, age_h, cohort, stage, deleted, size_idx, pref_kind,
       pg_temp.r(108, u) < 0.93 OR cohort = 'new' AS has_activity,
       CASE WHEN stage = 1 THEN 0
            WHEN stage IS NOT NULL THEN 1 + floor(pg_temp.r(112, u) * 4)::integer
            WHEN cohort = 'fresh' THEN floor(pg_temp.r(112, u) * 3)::integer
            WHEN pg_temp.r(111, u) < 0.30 THEN 0
            WHEN pg_temp.r(111, u) < 0.98 THEN least(200, 1 + floor(-ln(1 - pg_temp.r(112, u)) * 2.5)::integer)
            ELSE 15 + floor(pg_temp.r(112, u) * 50)::integer      -- collectors
       END AS inv_n,
       CASE WHEN stage = 4 THEN floor(pg_temp.r(114, u) * 2)::integer   -- only deleted rows
            WHEN stage = 5 THEN 1 + floor(pg_temp.r(114, u) * 3)::integer
            WHEN stage IS NOT NULL THEN floor(pg_temp.r(114, u) * 3)::integer
            WHEN pg_temp.r(113, u) < 0.40 THEN 0
            ELSE least(200, 1 + floor(-ln(1 - pg_temp.r(114, u)) * 2)::integer)
       END AS wish_n,
       CASE WHEN stage IN (1, 3) THEN 0
            WHEN stage IN (4, 5) THEN 1 + floor(pg_temp.r(116, u) * 3)::integer
            WHEN stage = 2 THEN floor(pg_temp.r(116, u) * 2)::integer
            WHEN pg_temp.r(115, u) < 0.50 THEN 0
            ELSE least(200, 1 + floor(-ln(1 - pg_temp.r(116, u)) * 1.2)::integer)
       END AS offer_n,
       CASE WHEN pg_temp.r(117, u) < 0.60 THEN 0 ELSE 1 + floor(pg_temp.r(118, u) * 4)::integer END AS desired_n,
       CASE WHEN pg_temp.r(119, u) < 0.08 THEN 0
            WHEN pg_temp.r(119, u) < 0.83 THEN 1
            WHEN pg_temp.r(119, u) < 0.95 THEN 2
            ELSE 3 + floor(pg_temp.r(120, u) * 3)::integer
       END AS device_n
FROM (
    SELECT u,
           CASE WHEN c < 0.03 THEN 12 * pg_temp.r(102, u)
                WHEN c < 0.13 THEN 12 + 324 * pg_temp.r(102, u)
                ELSE 336 + 34700 * pg_temp.r(102, u) END AS age_h,
           CASE WHEN c < 0.03 THEN 'fresh' WHEN c < 0.13 THEN 'new' ELSE 'old' END AS cohort,
           CASE WHEN c >= 0.03 AND c < 0.13 THEN 1 + floor(pg_temp.r(103, u) * 5)::integer END AS stage,
           pg_temp.r(104, u) < 0.03 AS deleted,
           6 + floor((pg_temp.r(105, u) + pg_temp.r(106, u)) * 6.5)::integer AS size_idx,
           CASE WHEN k < 0.05 THEN 0 WHEN k < 0.09 THEN 1 WHEN k < 0.13 THEN 2 WHEN k < 0.16 THEN 3
                WHEN k < 0.19 THEN 4 WHEN k < 0.24 THEN 5 ELSE 6 END AS pref_kind
    FROM generate_series(1, %(users)s) AS u,
         LATERAL (SELECT pg_temp.r(101, u) AS c, pg_temp.r(107, u) AS k OFFSET 0) AS d
) AS base;
ANALYZE seed_users;

-- step: users
INSERT INTO users (id, email, bio, birthday, created_at, deleted_at, first_name, last_name, instagram_handle,
                   is_verified, is_trusted_trader, legacy_user_id, updated_at, username, avatar_id, phone_number,
                   completed_trades_count, completed_buys_count, completed_sells_count, closet_value, update_index)
SELECT su.id,
       CASE WHEN pg_temp.r(123, u) < 0.05 THEN NULL
            ELSE 'user' || u || '@' || (ARRAY['example.com', 'example.net', 'example.org'])[1 + mod(u, 3)] END,
       CASE WHEN su.stage = 2 THEN (ARRAY[NULL, '', '   '])[1 + floor(pg_temp.r(124, u) * 3)::integer]
            WHEN coalesce(su.stage, 1) = 1 AND pg_temp.r(124, u) < 0.35 THEN NULL
            WHEN coalesce(su.stage, 1) = 1 AND pg_temp.r(124, u) < 0.42 THEN ''
            WHEN coalesce(su.stage, 1) = 1 AND pg_temp.r(124, u) < 0.46 THEN (ARRAY['   ', E' \t ', E'\n'])[1 + mod(u, 3)]
            ELSE (ARRAY[
                'Sneakerhead since 2009', 'Size 10.5, always down to trade', 'Jordan collector 🏀',
                'DS only. No fakes, no lowballs.', 'Dunks > everything', 'Trading to complete my "Bred" set',
                'Chicago, IL · ships fast', 'Vintage Air Max & NB 990s', 'Ask me about my grails ✨',
                'Mamá, papá, y sneakers'])[1 + floor(pg_temp.r(125, u) * 10)::integer]
       END,
       CASE WHEN pg_temp.r(126, u) < 0.5
            THEN ((%(as_of)s AT TIME ZONE 'UTC')::date - (6570 + floor(pg_temp.r(127, u) * 9000))::integer) END,
       pg_temp.before(su.age_h),
       CASE WHEN su.deleted THEN pg_temp.epoch(pg_temp.before(su.age_h * pg_temp.r(128, u))) ELSE 0 END,
       CASE WHEN pg_temp.r(121, u) < 0.04 THEN NULL
            WHEN pg_temp.r(121, u) < 0.06 THEN ''
            ELSE (ARRAY['Marcus', 'Aaliyah', 'Jordan', 'Sofia', 'DeShawn', 'Emily', 'José', 'Zoë', 'Kenji',
                        'Ngozi', 'D''Andre', 'Chloé', 'Mateo', 'Priya', 'Tyrell', 'Hannah', 'Björn', 'Imani',
                        'Luis', 'Mia'])[1 + floor(pg_temp.r(122, u) * 20)::integer]
       END,
       CASE WHEN pg_temp.r(129, u) < 0.15 THEN NULL
            ELSE (ARRAY['Johnson', 'García', 'Smith', 'O''Brien', 'Nguyen', 'Okafor', 'Müller', 'Williams',
                        'Kim', 'Brown'])[1 + floor(pg_temp.r(130, u) * 10)::integer]
       END,
       CASE WHEN pg_temp.r(131, u) < 0.2 THEN 'ig_kicks_' || u END,
       pg_temp.r(132, u) < 0.10,
       pg_temp.r(133, u) < 0.05,
       CASE WHEN su.cohort = 'old' AND pg_temp.r(134, u) < 0.2 THEN 'c' || lpad(to_hex(u), 24, '0') END,
       pg_temp.before(su.age_h * pg_temp.r(135, u)),
       CASE WHEN pg_temp.r(136, u) < 0.03 THEN NULL
            ELSE (ARRAY['kicks', 'sole', 'grail', 'hype', 'laced', 'heat', 'dunk', 'retro'])[1 + mod(u, 8)]
                 || '_' || u END,
       CASE WHEN pg_temp.r(137, u) < 0.6 THEN pg_temp.id(16, u) END,
       CASE WHEN pg_temp.r(138, u) < 0.3 THEN '+1555' || lpad(u::text, 7, '0') END,
       floor(-ln(1 - pg_temp.r(139, u)) * 3)::integer,
       floor(-ln(1 - pg_temp.r(140, u)) * 1)::integer,
       floor(-ln(1 - pg_temp.r(141, u)) * 1)::integer,
       (su.inv_n * (80 + floor(pg_temp.r(142, u) * 200)))::integer,
       true
FROM seed_users AS su;

-- step: user_activities
-- last_active within ~120 days, skewed to recent, never before signup.
INSERT INTO user_activities (id, user_id, last_active, last_streak_update, streak_count)
SELECT pg_temp.id(2, u), su.id, pg_temp.before(h),
       CASE WHEN pg_temp.r(145, u) < 0.7 THEN pg_temp.before(h) END,
       floor(pg_temp.r(146, u) * 30)::integer
FROM seed_users AS su,
     LATERAL (SELECT 2880 * pg_temp.r(143, su.u) ^ 1.5 AS x OFFSET 0) AS a,
     LATERAL (SELECT CASE WHEN a.x < su.age_h THEN a.x ELSE su.age_h * pg_temp.r(144, su.u) END AS h) AS b
WHERE su.has_activity;

-- step: attributes
INSERT INTO attributes (id, created_at, updated_at, deleted_at, type, required, name, i18n_values_required)
VALUES (pg_temp.id(4, 1), pg_temp.before(40000), pg_temp.before(40000), 0, 'SELECT', true, 'mens_size', false),
       (pg_temp.id(4, 2), pg_temp.before(40000), pg_temp.before(40000), 0, 'SELECT', false, 'womens_size', false);

-- Mens sizes 4..15 and womens sizes 5..12, in half sizes; id index = attribute * 100 + size index.
INSERT INTO attribute_values (id, created_at, updated_at, deleted_at, value, attribute_id, key)
SELECT pg_temp.id(5, a * 100 + s), pg_temp.before(40000), pg_temp.before(40000), 0,
       pg_temp.size_text(s, CASE a WHEN 1 THEN 4 ELSE 5 END), pg_temp.id(4, a),
       CASE a WHEN 1 THEN 'mens_size_' ELSE 'womens_size_' END || pg_temp.size_text(s, CASE a WHEN 1 THEN 4 ELSE 5 END)
FROM (VALUES (1, 22), (2, 14)) AS attr (a, top), generate_series(0, top) AS s;

-- step: user_preferences
INSERT INTO user_preferences (id, user_id, created_at, updated_at, deleted_at, use_dark_mode, use_vacation_mode,
                              block_private_bids, only_accept_size_match, only_accept_wishlist_match,
                              public_total_closet_value, language_code)
SELECT pg_temp.id(3, u), su.id, pg_temp.before(su.age_h), pg_temp.before(su.age_h * pg_temp.r(250, u)), 0,
       CASE WHEN pg_temp.r(251, u) < 0.5 THEN pg_temp.r(252, u) < 0.4 END,
       pg_temp.r(253, u) < 0.03, pg_temp.r(254, u) < 0.05, pg_temp.r(255, u) < 0.1, pg_temp.r(256, u) < 0.05,
       pg_temp.r(257, u) < 0.2,
       (ARRAY['en', 'en', 'en', 'es', 'fr', NULL])[1 + floor(pg_temp.r(258, u) * 6)::integer]
FROM seed_users AS su
WHERE su.pref_kind > 0;

-- Row 1 is the main size preference, row 2 the second one of kinds 4 and 5; index = u * 4 + row.
INSERT INTO attribute_preferences (id, created_at, updated_at, deleted_at, attribute_id, attribute_value_id,
                                   user_preference_id, related_attribute_preference_id, preferred)
SELECT pg_temp.id(6, u::bigint * 4 + p.row), pg_temp.before(su.age_h), pg_temp.before(su.age_h),
       CASE WHEN pg_temp.r(260, u::bigint * 4 + p.row) < 0.05
            THEN pg_temp.epoch(pg_temp.before(su.age_h * pg_temp.r(261, u))) ELSE 0 END,
       pg_temp.id(4, p.attr), pg_temp.id(5, p.attr * 100 + p.size), pg_temp.id(3, u),
       CASE WHEN su.pref_kind = 5 AND p.row = 2 THEN pg_temp.id(6, u::bigint * 4 + 1) END,
       p.preferred
FROM seed_users AS su,
     LATERAL (VALUES
        (1, CASE su.pref_kind WHEN 3 THEN 2 ELSE 1 END,
            CASE su.pref_kind WHEN 3 THEN greatest(0, least(14, su.size_idx - 4)) ELSE su.size_idx END,
            su.pref_kind <> 2),
        (2, 1, least(22, su.size_idx + 1), su.pref_kind = 4)
     ) AS p (row, attr, size, preferred)
WHERE su.pref_kind >= 2 AND (p.row = 1 OR su.pref_kind IN (4, 5));

-- step: products
-- The first 16 products (the most popular ones) carry real names with quotes, commas and
-- non-ASCII characters; the rest combine a model with a colorway. Each product has variants
-- for a contiguous range of mens size indexes lo..hi (always covering sizes 7..12).
CREATE TEMP TABLE seed_products AS
SELECT p, pg_temp.id(7, p) AS id,
       CASE WHEN p <= 16 THEN (ARRAY[
                'Nike Dunk Low "Panda"',
                'Air Jordan 1 Retro High OG ''Bred Toe''',
                'Yeezy Boost 350 V2 ‘Zebra’',
                'Air Jordan 4 Retro "Military Black"',
                'New Balance 550 "White, Green"',
                'Nike Air Force 1 Low ''07 "Triple White"',
                'Travis Scott x Air Jordan 1 Low OG "Reverse Mocha"',
                'adidas Samba OG "Cloud White / Core Black"',
                'Air Jordan 11 Retro "Cool Grey" (2021)',
                'Nike SB Dunk Low "Chunky Dunky"',
                'ASICS Gel-Kayano 14 "Cream, Black"',
                'Nike Air Max 1 ’86 OG "Big Bubble"',
                'Salehe Bembury × Crocs Pollex Clog "Cucumber"',
                'Nike Dunk Low "Año Nuevo"',
                'Air Jordan 3 Retro "White Cement Reimagined"',
                'New Balance 990v6 "Grey" — Made in USA'])[p]
            ELSE models.m[1 + mod(p, 30)] || ' ' || colorways.c[1 + mod(p / 30, 50)]
                 || CASE WHEN p > 1500 THEN ' ' || (2000 + p / 1500)::text ELSE '' END
       END AS name,
       floor(pg_temp.r(270, p) * 6)::integer AS lo,
       22 - floor(pg_temp.r(271, p) * 6)::integer AS hi
FROM generate_series(1, %(products)s) AS p,
     (SELECT ARRAY['Nike Dunk Low', 'Nike Dunk High', 'Air Jordan 1 Retro High OG', 'Air Jordan 1 Mid',
                   'Air Jordan 1 Low', 'Air Jordan 3 Retro', 'Air Jordan 4 Retro', 'Air Jordan 5 Retro',
                   'Air Jordan 6 Retro', 'Air Jordan 11 Retro', 'Air Jordan 12 Retro', 'Nike Air Max 1',
                   'Nike Air Max 90', 'Nike Air Max 95', 'Nike Air Force 1 Low', 'Nike SB Dunk Low Pro',
                   'Yeezy Boost 350 V2', 'Yeezy Slide', 'Yeezy 700 V3', 'New Balance 550', 'New Balance 2002R',
                   'New Balance 990v3', 'adidas Samba OG', 'adidas Gazelle Indoor', 'adidas Campus 00s',
                   'ASICS Gel-1130', 'ASICS GT-2160', 'Converse Chuck 70 Hi', 'Puma Suede Classic',
                   'Nike Kobe 6 Protro']) AS models (m),
     (SELECT ARRAY['"Bred"', '"Chicago"', '"University Blue"', '"Black Cat"', '"Royal Toe"', '"Shadow"',
                   '"Mocha"', '"Pine Green"', '"Court Purple"', '"Fire Red"', '"Infrared"', '"Concord"',
                   '"Space Jam"', '"Oreo"', '"Sail / Black"', '"Grey Fog"', '"Coconut Milk"', '"Syracuse"',
                   '"Kentucky"', '"Michigan"', '"Photon Dust"', '"Medium Olive"', '"Lobster"', '"Reverse Panda"',
                   '"Sea Glass"', '"Desert Sage"', '"Onyx"', '"Bone"', '"Triple Black"', '"Triple White"',
                   '"Mauve"', '"Midnight Navy"', '"Cement Grey"', '"Bordeaux"', '"Pollen"', '"Volt"',
                   '"Red, White & Blue"', '"Black, Gum"', '"Sail, Orange"', '''Metallic Gold''',
                   '''Obsidian''', '''Smoke Grey''', '‘Beluga’', '‘Cream’', '‘Ash Pearl’', '"Crème Brûlée"',
                   '"Naranja"', '"Año del Dragón"', '"Tokyo 東京"', '"Grinch"']) AS colorways (c);
ANALYZE seed_products;

-- Size index 0..22 of any product -> its variant of that size, clamped to the product's range.
CREATE TEMP TABLE seed_variants AS
SELECT sp.p, s, pg_temp.id(8, sp.p::bigint * 32 + greatest(sp.lo, least(sp.hi, s))) AS id
FROM seed_products AS sp, generate_series(0, 22) AS s;
ALTER TABLE seed_variants ADD PRIMARY KEY (p, s);
ANALYZE seed_variants;

INSERT INTO products (id, created_at, updated_at, deleted_at, release_date, retail_price, name, page_views_count,
                      update_prices_daily, skip_prices_update, mpn, slug, attribute_group_id, index_cache)
SELECT sp.id, pg_temp.before(30000 + 10000 * pg_temp.r(272, p)), pg_temp.before(24 * 30 * pg_temp.r(273, p)),
       CASE WHEN pg_temp.r(274, p) < 0.01 THEN pg_temp.epoch(pg_temp.before(24 * 60 * pg_temp.r(275, p))) ELSE 0 END,
       (%(as_of)s AT TIME ZONE 'UTC')::date - floor(pg_temp.r(276, p) * 3000)::integer,
       90 + 10 * floor(pg_temp.r(277, p) * 20), sp.name,
       floor(100000 / p * pg_temp.r(278, p))::integer, pg_temp.r(279, p) < 0.5, false,
       'TB' || lpad(p::text, 7, '0'),
       trim(BOTH '-' FROM lower(regexp_replace(sp.name, '[^A-Za-z0-9]+', '-', 'g'))) || '-' || p,
       pg_temp.id(18, 1), jsonb_build_object('brand', split_part(sp.name, ' ', 1))
FROM seed_products AS sp;

INSERT INTO product_variants (id, created_at, updated_at, deleted_at, upc, min_market_price, max_market_price,
                              lowest_ask_price, highest_bid_price, price_mode, product_id, index_cache)
SELECT pg_temp.id(8, vi), pg_temp.before(30000), pg_temp.before(24 * pg_temp.r(280, vi)), 0,
       lpad((floor(pg_temp.r(281, vi) * 1e12))::bigint::text, 12, '0'),
       price * 0.8, price * 1.6, CASE WHEN pg_temp.r(282, vi) < 0.6 THEN price * 1.2 END,
       CASE WHEN pg_temp.r(283, vi) < 0.4 THEN price * 0.9 END, 'SOURCE', sp.id,
       CASE WHEN pg_temp.r(284, vi) < 0.02 THEN NULL
            WHEN pg_temp.r(284, vi) < 0.04 THEN jsonb_build_object('womens_size', pg_temp.size_text(s, 5))
            WHEN pg_temp.r(284, vi) < 0.14
                 THEN jsonb_build_object('mens_size', pg_temp.size_text(s, 4), 'womens_size', pg_temp.size_text(s + 3, 4))
            ELSE jsonb_build_object('mens_size', pg_temp.size_text(s, 4))
       END
FROM seed_products AS sp, generate_series(sp.lo, sp.hi) AS s,
     LATERAL (SELECT sp.p::bigint * 32 + s AS vi, (90 + 10 * floor(pg_temp.r(277, sp.p) * 20))::numeric AS price) AS v;

-- step: inventory_items
-- Item index i = u * 1024 + k. Most items are in the owner's size (pg_temp.inv_size).
INSERT INTO inventory_items (id, created_at, updated_at, deleted_at, status, note, was_previously_authenticated,
                             product_variant_id, user_id, previous_inventory_item_id, update_index,
                             trade_willingness, index_cache)
SELECT pg_temp.id(9, i), pg_temp.before(h), pg_temp.before(h * pg_temp.r(154, i)),
       CASE WHEN status = 'REMOVED' AND pg_temp.r(155, i) < 0.5
            THEN pg_temp.epoch(pg_temp.before(h * pg_temp.r(156, i))) ELSE 0 END,
       status,
       CASE WHEN pg_temp.r(157, i) < 0.05 THEN (ARRAY['Worn 2x, OG box', 'DS, never tried on', 'Small scuff on toe',
            'Box has a "tear", shoes perfect', 'Sin caja — no box'])[1 + floor(pg_temp.r(158, i) * 5)::integer] END,
       pg_temp.r(159, i) < 0.1, v.id, su.id, NULL, true,
       floor(pg_temp.r(160, i) * 4)::integer,
       jsonb_build_object('inventory_condition', CASE WHEN pg_temp.r(161, i) < 0.6 THEN 'NEW' ELSE 'USED' END,
                          'box_status', CASE WHEN pg_temp.r(162, i) < 0.8 THEN 'ORIGINAL' ELSE 'NO_BOX' END)
FROM seed_users AS su,
     LATERAL generate_series(1, su.inv_n) AS k,
     LATERAL (SELECT su.u::bigint * 1024 + k AS i OFFSET 0) AS x,
     LATERAL (SELECT pg_temp.ago(pg_temp.r(163, x.i), pg_temp.r(164, x.i), pg_temp.r(165, x.i), su.age_h) AS h,
                     CASE WHEN pg_temp.r(153, x.i) < 0.82 THEN 'OPEN_FOR_TRADE'
                          WHEN pg_temp.r(153, x.i) < 0.87 THEN 'LOCKED_IN_TRADE'
                          WHEN pg_temp.r(153, x.i) < 0.94 THEN 'HAS_NEW_OWNER'
                          ELSE 'REMOVED' END AS status) AS d,
     seed_variants AS v
WHERE v.p = pg_temp.inv_product(x.i) AND v.s = pg_temp.inv_size(x.i, su.size_idx);

-- step: wishlist_items
-- New users at waterfall level 4 have only soft-deleted wishlist rows; level 5 users at least one live row.
INSERT INTO wishlist_items (id, created_at, updated_at, deleted_at, product_variant_id, user_id, update_index,
                            index_cache)
SELECT pg_temp.id(10, i), pg_temp.before(h), pg_temp.before(h * pg_temp.r(170, i)),
       CASE WHEN coalesce(su.stage, 0) = 4 OR (pg_temp.r(171, i) < 0.1 AND NOT (coalesce(su.stage, 0) = 5 AND k = 1))
            THEN pg_temp.epoch(pg_temp.before(h * pg_temp.r(172, i))) ELSE 0 END,
       v.id, su.id, true, NULL
FROM seed_users AS su,
     LATERAL generate_series(1, su.wish_n) AS k,
     LATERAL (SELECT su.u::bigint * 1024 + k AS i OFFSET 0) AS x,
     LATERAL (SELECT pg_temp.ago(pg_temp.r(173, x.i), pg_temp.r(174, x.i), pg_temp.r(175, x.i), su.age_h) AS h) AS d,
     seed_variants AS v
WHERE v.p = pg_temp.zipf(pg_temp.r(176, x.i))
      AND v.s = CASE WHEN pg_temp.r(177, x.i) < 0.9 THEN su.size_idx ELSE floor(pg_temp.r(178, x.i) * 23)::integer END;

-- step: desired_items
INSERT INTO desired_items (id, created_at, updated_at, deleted_at, offers_count, product_variant_id, user_id)
SELECT pg_temp.id(11, i), pg_temp.before(h), pg_temp.before(h * pg_temp.r(180, i)),
       CASE WHEN pg_temp.r(181, i) < 0.05 THEN pg_temp.epoch(pg_temp.before(h * pg_temp.r(182, i))) ELSE 0 END,
       floor(-ln(1 - pg_temp.r(183, i)) * 5)::integer, v.id, su.id
FROM seed_users AS su,
     LATERAL generate_series(1, su.desired_n) AS k,
     LATERAL (SELECT su.u::bigint * 64 + k AS i OFFSET 0) AS x,
     LATERAL (SELECT pg_temp.ago(pg_temp.r(184, x.i), pg_temp.r(185, x.i), pg_temp.r(186, x.i), su.age_h) AS h) AS d,
     seed_variants AS v
WHERE v.p = pg_temp.zipf(pg_temp.r(187, x.i))
      AND v.s = CASE WHEN pg_temp.r(188, x.i) < 0.9 THEN su.size_idx ELSE floor(pg_temp.r(189, x.i) * 23)::integer END;

-- step: offers_plan
-- Offer index i = u * 256 + k; the creator is user u, the receiver another user (none for some public offers).
CREATE TEMP TABLE seed_offers AS
SELECT x.i, su.u, su.id AS creator_id, su.size_idx, su.inv_n, h,
       CASE WHEN s < 0.38 THEN 'OPEN' WHEN s < 0.52 THEN 'COMPLETED' WHEN s < 0.62 THEN 'DECLINED'
            WHEN s < 0.71 THEN 'EXPIRED' WHEN s < 0.77 THEN 'RESCINDED' WHEN s < 0.82 THEN 'COUNTERED'
            WHEN s < 0.87 THEN 'IN_PROGRESS' WHEN s < 0.90 THEN 'FAILED' WHEN s < 0.92 THEN 'ON_HOLD'
            WHEN s < 0.96 THEN 'DRAFT' ELSE 'PAUSED' END AS status,
       CASE WHEN pg_temp.r(191, x.i) < 0.7 THEN 'PUBLIC' ELSE 'PRIVATE' END AS offer_type,
       1 + mod(su.u + floor(pg_temp.r(192, x.i) * (%(users)s - 1))::integer, %(users)s) AS receiver_u
FROM seed_users AS su,
     LATERAL generate_series(1, su.offer_n) AS k,
     LATERAL (SELECT su.u::bigint * 256 + k AS i OFFSET 0) AS x,
     LATERAL (SELECT pg_temp.ago(pg_temp.r(193, x.i), pg_temp.r(194, x.i), pg_temp.r(195, x.i), su.age_h) AS h,
                     pg_temp.r(190, x.i) AS s OFFSET 0) AS d;
ANALYZE seed_offers;

-- step: offers
INSERT INTO offers (id, created_at, updated_at, deleted_at, offer_type, offer_status, offer_currency,
                    offer_transaction_type, cash, is_offer_idea, key, creator_user_id, offer_pause_reason,
                    receiver_user_id, trade_value_percentage, trade_value_difference, creator_items_value,
                    receiver_items_value, confirmed_trade_date, original_offer_id, update_index, expiration_date)
SELECT pg_temp.id(12, i), pg_temp.before(h), pg_temp.before(h * pg_temp.r(200, i)),
       CASE WHEN pg_temp.r(201, i) < 0.04 THEN pg_temp.epoch(pg_temp.before(h * pg_temp.r(202, i))) ELSE 0 END,
       offer_type, status, 'USD', 'EXCHANGE',
       CASE WHEN pg_temp.r(203, i) < 0.2 THEN round((10 + pg_temp.r(204, i) * 190)::numeric, 2) END,
       pg_temp.r(205, i) < 0.02, NULL, creator_id,
       CASE WHEN status = 'PAUSED' THEN 'VACATION_MODE' END,
       CASE WHEN offer_type = 'PUBLIC' AND pg_temp.r(206, i) < 0.2 THEN NULL ELSE pg_temp.id(1, receiver_u) END,
       round((80 + pg_temp.r(207, i) * 40)::numeric, 2), round(((pg_temp.r(208, i) - 0.5) * 100)::numeric, 2),
       round((100 + pg_temp.r(209, i) * 400)::numeric, 2), round((100 + pg_temp.r(210, i) * 400)::numeric, 2),
       CASE WHEN status = 'COMPLETED' THEN pg_temp.before(h * pg_temp.r(211, i)) END,
       CASE WHEN status = 'COUNTERED' AND k_prev > 0 THEN pg_temp.id(12, i - 1) END,
       true, pg_temp.before(h - 24 * 7)
FROM seed_offers, LATERAL (SELECT mod(i, 256) - 1 AS k_prev) AS c;

-- step: offer_items
-- Item 1 is what the creator asks for (RECEIVER side), item 2 what they give (CREATOR side, one of
-- their own closet items when they have any), item 3 an extra piece on either side.
INSERT INTO offer_items (id, created_at, updated_at, deleted_at, offer_item_owner, offer_id, product_variant_id,
                         inventory_item_id, offer_item_validation_status, pricing_on_trade_confirmation,
                         seller_fee_free, buyer_fee_free)
SELECT pg_temp.id(13, o.i * 4 + j), pg_temp.before(o.h), pg_temp.before(o.h), 0, owner, pg_temp.id(12, o.i),
       v.id, CASE WHEN from_closet THEN pg_temp.id(9, closet_i) END,
       CASE WHEN o.status = 'COMPLETED' THEN 'PASSED' END, NULL, false, false
FROM seed_offers AS o,
     LATERAL generate_series(1, 1 + floor(pg_temp.r(220, o.i) * 3)::integer) AS j,
     LATERAL (SELECT CASE WHEN j = 1 THEN 'RECEIVER' WHEN j = 2 THEN 'CREATOR'
                          WHEN pg_temp.r(221, o.i) < 0.5 THEN 'CREATOR' ELSE 'RECEIVER' END AS owner,
                     j = 2 AND o.inv_n > 0 AS from_closet,
                     o.u::bigint * 1024 + 1 + floor(pg_temp.r(222, o.i) * greatest(o.inv_n, 1))::integer AS closet_i,
                     pg_temp.zipf(pg_temp.r(223, o.i * 4 + j)) AS p,
                     CASE WHEN pg_temp.r(224, o.i * 4 + j) < 0.8 THEN o.size_idx
                          ELSE floor(pg_temp.r(225, o.i * 4 + j) * 23)::integer END AS s
              OFFSET 0) AS d,
     seed_variants AS v
WHERE v.p = CASE WHEN d.from_closet THEN pg_temp.inv_product(d.closet_i) ELSE d.p END
      AND v.s = CASE WHEN d.from_closet THEN pg_temp.inv_size(d.closet_i, o.size_idx) ELSE d.s END;

-- step: trades
-- A trade for most completed offers; validation passes 1-10 days after the offer (not yet, if that is after as_of).
INSERT INTO trades (id, created_at, updated_at, deleted_at, origin, on_hold_expiration_date, confirmed_trade_date,
                    validation_passed_date, state, note, trade_flow_version, creator_user_validation_expiration_date,
                    receiver_user_validation_expiration_date, offer_id)
SELECT pg_temp.id(14, i), pg_temp.before(h), pg_temp.before(greatest(0, h - passed_h)), 0, 'OFFER', NULL,
       pg_temp.before(h), CASE WHEN passed_h < h THEN pg_temp.before(h - passed_h) END,
       CASE WHEN passed_h < h THEN 'COMPLETED' ELSE 'AWAITING_SHIPMENT' END, NULL, 2,
       pg_temp.before(h - 72), pg_temp.before(h - 72), pg_temp.id(12, i)
FROM seed_offers, LATERAL (SELECT 24 + 216 * pg_temp.r(230, i) AS passed_h) AS t
WHERE status = 'COMPLETED' AND pg_temp.r(231, i) < 0.9;

-- step: devices
-- Device index i = u * 8 + k. The fingerprint is unique per user; ~6 in 100 devices have no token.
-- Tokens are URL-safe base64 like FCM's: '=' padding and base64's line breaks are dropped.
INSERT INTO devices (id, created_at, updated_at, fingerprint, user_id, token)
SELECT pg_temp.id(15, i), pg_temp.before(least(su.age_h, h + 24 * 30 * pg_temp.r(240, i))), pg_temp.before(h),
       upper(pg_temp.id(17, i)::text), su.id,
       CASE WHEN pg_temp.r(241, i) >= 0.06 THEN
           translate(left(encode(uuid_send(pg_temp.id(19, i)) || uuid_send(pg_temp.id(20, i)), 'base64'), 22)
                     || ':APA91b'
                     || encode(sha512(uuid_send(pg_temp.id(21, i))), 'base64'), E'+/=\n', '-_')
       END
FROM seed_users AS su,
     LATERAL generate_series(1, su.device_n) AS k,
     LATERAL (SELECT su.u::bigint * 8 + k AS i OFFSET 0) AS x,
     LATERAL (SELECT su.age_h * pg_temp.r(242, x.i) ^ 2 AS h) AS d;

-- step: cleanup
DROP TABLE seed_users, seed_products, seed_variants, seed_offers;
DROP FUNCTION pg_temp.inv_size, pg_temp.inv_product, pg_temp.size_text, pg_temp.ago, pg_temp.window_hours,
              pg_temp.zipf, pg_temp.before, pg_temp.epoch, pg_temp.id, pg_temp.r;
