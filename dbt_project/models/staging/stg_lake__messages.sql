{{ incremental_config(by_export_day=true) }}
-- The lake's messages, typed as the yml declares, each event id once (macros/versions.sql, staged_events).
{{ staged_events('messages') }}
