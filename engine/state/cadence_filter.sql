-- Cadence check for a whole audience in one statement.
--
-- Rules arrive as parallel arrays (rule_ord, rule_since, rule_max) plus their counted layers as
-- (rl_ord, rl_layer) pairs. A rule blocks a user when the user has at least rule_max pushes of
-- the rule's layers with  rule_since < sent_at <= as_of  (rule_since = as_of - window: the
-- original's `sent_at > NOW() - interval 'N hours'`, so exactly N hours ago no longer counts).
-- Only history up to as_of counts, so backfills and replays are deterministic; a live send passes
-- as_of NULL (everything recorded counts: its clock is only read for the windows).
-- Claims count too: a push planned by a send (engine.send_items pending, in flight, or failed but to
-- be retried) counts as sent at its send's planning time (engine.sends.as_of), so two sends planned
-- one after the other (under the caller's cadence lock) never both pick the same user. A push
-- that finally fails leaves the claims; pushes in doubt are in user_notifications (delivery).
-- Returns one row per excluded user: the first blocking rule (lowest rule_ord) with its
-- count and most recent counted push.
-- user_ids must be unique (the caller de-duplicates): a DISTINCT here hides the audience size
-- from the planner, which then picks 100k index probes over one hash join.
WITH audience AS (
    SELECT a.user_id
    FROM unnest(%(user_ids)s::uuid[]) AS a (user_id)
),
rules AS (
    SELECT r.ord, r.since, r.max_count
    FROM unnest(%(rule_ord)s::int[], %(rule_since)s::timestamptz[], %(rule_max)s::int[]) AS r (ord, since, max_count)
),
rule_layers AS (
    SELECT rl.ord, rl.layer_id
    FROM unnest(%(rl_ord)s::int[], %(rl_layer)s::int[]) AS rl (ord, layer_id)
),
pushes AS (
    SELECT n.user_id, n.layer_id, n.sent_at
    FROM engine.user_notifications AS n
    JOIN audience AS a ON a.user_id = n.user_id
    WHERE n.sent_at <= coalesce(%(as_of)s::timestamptz, 'infinity')
      AND n.sent_at > %(horizon)s
    UNION ALL
    SELECT i.user_id, s.layer_id, s.as_of AS sent_at
    FROM engine.send_items AS i
    JOIN audience AS a ON a.user_id = i.user_id
    JOIN engine.sends AS s ON s.send_id = i.send_id
    WHERE (i.status IN ('pending', 'in_flight') OR (i.status = 'failed' AND i.retryable))
      AND s.as_of <= coalesce(%(as_of)s::timestamptz, 'infinity')
      AND s.as_of > %(horizon)s
),
hits AS (
    SELECT n.user_id, r.ord, r.max_count, count(*) AS pushes, max(n.sent_at) AS last_sent_at
    FROM pushes AS n
    JOIN rule_layers AS rl ON rl.layer_id = n.layer_id
    JOIN rules AS r ON r.ord = rl.ord AND n.sent_at > r.since
    GROUP BY n.user_id, r.ord, r.max_count
)
SELECT DISTINCT ON (h.user_id) h.user_id::text AS user_id, h.ord AS rule_ord, h.pushes, h.last_sent_at
FROM hits AS h
WHERE h.pushes >= h.max_count
ORDER BY h.user_id, h.ord
