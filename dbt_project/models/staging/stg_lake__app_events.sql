{{ incremental_config(by_export_day=true) }}
-- The lake's app events, typed, each event id once (macros/versions.sql, staged_events).
{{ staged_events('app_events', {
    'event_id': dbt.type_string(),
    'user_id': dbt.type_string(),
    'event_name': dbt.type_string(),
    'occurred_at': dbt.type_timestamp(),
    'properties': dbt.type_string()
}) }}
