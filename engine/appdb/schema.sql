-- Faithful subset of the production Tradeblock app schema (reference section 1).
-- Table and column names, types and conventions are production's: uuid ids,
-- soft delete as `deleted_at integer NOT NULL DEFAULT 0` (0 = live), timestamptz(6)
-- created_at/updated_at, enum-like text columns. Indexes are production's (1.3):
-- notably none on the created_at columns the time windows use.
-- Lookup tables and foreign keys to them are left out: the generator fills only valid values.

CREATE TABLE users (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    email varchar(320) UNIQUE,
    bio varchar(160),
    birthday date,
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    first_name varchar(255),
    last_name varchar(255),
    instagram_handle varchar(100),
    is_verified boolean NOT NULL DEFAULT false,
    is_trusted_trader boolean NOT NULL DEFAULT false,
    legacy_user_id char(25) UNIQUE,
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    username varchar(100) UNIQUE,
    avatar_id uuid UNIQUE,
    phone_number text,
    completed_trades_count integer NOT NULL DEFAULT 0,
    completed_buys_count integer NOT NULL DEFAULT 0,
    completed_sells_count integer NOT NULL DEFAULT 0,
    closet_value integer NOT NULL DEFAULT 0,
    update_index boolean NOT NULL DEFAULT true
);
CREATE INDEX users_deleted_at_idx ON users (deleted_at);

CREATE TABLE user_activities (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL UNIQUE REFERENCES users (id),
    last_active timestamptz(6) NOT NULL DEFAULT now(),
    last_streak_update timestamptz(6),
    streak_count integer NOT NULL DEFAULT 0
);

CREATE TABLE user_preferences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id uuid NOT NULL UNIQUE REFERENCES users (id),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    use_dark_mode boolean,
    use_vacation_mode boolean,
    block_private_bids boolean NOT NULL DEFAULT false,
    only_accept_size_match boolean NOT NULL DEFAULT false,
    only_accept_wishlist_match boolean NOT NULL DEFAULT false,
    public_total_closet_value boolean NOT NULL DEFAULT false,
    language_code text
);

CREATE TABLE attributes (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    type text,
    required boolean NOT NULL DEFAULT false,
    name varchar(255) NOT NULL UNIQUE,
    i18n_values_required boolean NOT NULL DEFAULT false
);

CREATE TABLE attribute_values (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    value varchar(255) NOT NULL,
    attribute_id uuid NOT NULL REFERENCES attributes (id),
    key text UNIQUE,
    UNIQUE (value, attribute_id)
);

CREATE TABLE attribute_preferences (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    attribute_id uuid NOT NULL REFERENCES attributes (id),
    attribute_value_id uuid NOT NULL REFERENCES attribute_values (id),
    user_preference_id uuid REFERENCES user_preferences (id),
    related_attribute_preference_id uuid REFERENCES attribute_preferences (id),
    preferred boolean NOT NULL
);
CREATE INDEX attribute_preferences_pref_related_deleted_idx
    ON attribute_preferences (user_preference_id, related_attribute_preference_id, deleted_at);
CREATE INDEX attribute_preferences_related_idx ON attribute_preferences (related_attribute_preference_id);

CREATE TABLE products (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    release_date date,
    retail_price numeric,
    name varchar(255) NOT NULL,
    page_views_count integer NOT NULL DEFAULT 0,
    update_prices_daily boolean NOT NULL DEFAULT false,
    skip_prices_update boolean NOT NULL DEFAULT false,
    mpn varchar(255) UNIQUE,
    slug varchar(255) UNIQUE,
    attribute_group_id uuid,
    index_cache jsonb
);

CREATE TABLE product_variants (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    upc varchar(255),
    min_market_price numeric,
    max_market_price numeric,
    last_sale_at timestamptz(6),
    last_sale_price numeric,
    lowest_ask_price numeric,
    lowest_ask_offer_id uuid UNIQUE,
    source_price numeric,
    source_price_date timestamptz(6),
    manual_price numeric,
    manual_price_date timestamptz(6),
    report_price numeric,
    report_price_date timestamptz(6),
    update_report_price boolean NOT NULL DEFAULT false,
    price_mode text NOT NULL DEFAULT 'SOURCE',
    highest_bid_price numeric,
    highest_bid_offer_id uuid UNIQUE,
    product_id uuid NOT NULL REFERENCES products (id),
    index_cache jsonb
);
CREATE INDEX product_variants_product_id_idx ON product_variants (product_id);

CREATE TABLE inventory_items (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    status text NOT NULL DEFAULT 'OPEN_FOR_TRADE',
    note varchar(140),
    was_previously_authenticated boolean NOT NULL DEFAULT false,
    product_variant_id uuid NOT NULL REFERENCES product_variants (id),
    user_id uuid NOT NULL REFERENCES users (id),
    previous_inventory_item_id uuid UNIQUE,
    update_index boolean NOT NULL DEFAULT true,
    trade_willingness integer,
    index_cache jsonb
);
CREATE INDEX inventory_items_user_variant_idx ON inventory_items (user_id, product_variant_id);
CREATE INDEX inventory_items_status_idx ON inventory_items (status);

CREATE TABLE wishlist_items (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    product_variant_id uuid NOT NULL REFERENCES product_variants (id),
    user_id uuid NOT NULL REFERENCES users (id),
    update_index boolean NOT NULL DEFAULT true,
    index_cache jsonb
);
CREATE INDEX wishlist_items_user_variant_idx ON wishlist_items (user_id, product_variant_id);

CREATE TABLE desired_items (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    offers_count integer NOT NULL,
    product_variant_id uuid NOT NULL REFERENCES product_variants (id),
    user_id uuid NOT NULL REFERENCES users (id)
);
CREATE INDEX desired_items_user_variant_deleted_idx ON desired_items (user_id, product_variant_id, deleted_at);
CREATE INDEX desired_items_created_deleted_idx ON desired_items (created_at, deleted_at);
CREATE INDEX desired_items_user_offers_count_idx ON desired_items (user_id, offers_count);

CREATE TABLE offers (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    offer_type text NOT NULL DEFAULT 'PUBLIC',
    offer_status text NOT NULL DEFAULT 'OPEN',
    offer_currency text NOT NULL DEFAULT 'USD',
    offer_transaction_type text NOT NULL DEFAULT 'EXCHANGE',
    cash numeric(12, 2),
    is_offer_idea boolean NOT NULL DEFAULT false,
    key text,
    creator_user_id uuid NOT NULL REFERENCES users (id),
    offer_pause_reason text,
    receiver_user_id uuid REFERENCES users (id),
    trade_value_percentage numeric(12, 2),
    trade_value_difference numeric(12, 2),
    creator_items_value numeric(12, 2),
    receiver_items_value numeric(12, 2),
    confirmed_trade_date timestamptz(6),
    original_offer_id uuid,
    update_index boolean NOT NULL DEFAULT true,
    expiration_date timestamptz(6)
);
CREATE INDEX offers_status_type_idx ON offers (offer_status, offer_type);
CREATE INDEX offers_creator_receiver_idx ON offers (creator_user_id, receiver_user_id);
CREATE INDEX offers_deleted_at_idx ON offers (deleted_at);

CREATE TABLE offer_items (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    offer_item_owner text NOT NULL,
    offer_id uuid NOT NULL REFERENCES offers (id),
    product_variant_id uuid NOT NULL REFERENCES product_variants (id),
    inventory_item_id uuid,
    offer_item_validation_status text,
    pricing_on_trade_confirmation jsonb,
    seller_fee_free boolean NOT NULL DEFAULT false,
    buyer_fee_free boolean NOT NULL DEFAULT false
);
CREATE INDEX offer_items_offer_id_idx ON offer_items (offer_id);

CREATE TABLE trades (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    deleted_at integer NOT NULL DEFAULT 0,
    origin text,
    on_hold_expiration_date timestamptz(6),
    confirmed_trade_date timestamptz(6),
    validation_passed_date timestamptz(6),
    state text NOT NULL DEFAULT 'COMPLETED',
    note text,
    trade_flow_version integer NOT NULL DEFAULT 1,
    creator_user_validation_expiration_date timestamptz(6),
    receiver_user_validation_expiration_date timestamptz(6),
    offer_id uuid NOT NULL UNIQUE REFERENCES offers (id)
);
CREATE INDEX trades_validation_passed_date_idx ON trades (validation_passed_date);

CREATE TABLE devices (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    created_at timestamptz(6) NOT NULL DEFAULT now(),
    updated_at timestamptz(6) NOT NULL DEFAULT now(),
    fingerprint varchar(100) NOT NULL,
    user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    token varchar(200),
    UNIQUE (fingerprint, user_id)
);
