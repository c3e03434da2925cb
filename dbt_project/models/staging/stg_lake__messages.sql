{{ incremental_config(by_export_day=true) }}
-- The lake's messages, typed, each event id once (macros/versions.sql, staged_events).
{{ staged_events('messages', {
    'event_id': dbt.type_string(),
    'user_id': dbt.type_string(),
    'campaign_id': dbt.type_string(),
    'event_type': dbt.type_string(),
    'occurred_at': dbt.type_timestamp(),
    'error_code': dbt.type_string()
}) }}
