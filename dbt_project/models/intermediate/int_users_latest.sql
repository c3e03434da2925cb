-- One row per user: the latest profile version (ties: later export day, file, record).
{{ latest_version(ref('stg_lake__users'), 'user_id', ['user_id', 'external_id', 'platform', 'browser', 'created_at', 'updated_at']) }}
