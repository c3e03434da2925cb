{{ incremental_config(by_export_day=true) }}
-- The lake's subscriptions, typed, each event id once (macros/versions.sql, staged_events).
{{ staged_events('subscriptions', {
    'event_id': dbt.type_string(),
    'user_id': dbt.type_string(),
    'event_type': dbt.type_string(),
    'occurred_at': dbt.type_timestamp(),
    'source': dbt.type_string(),
    'detected_via': dbt.type_string(),
    'campaign_id': dbt.type_string()
}) }}
