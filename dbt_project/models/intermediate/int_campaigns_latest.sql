-- One row per campaign: the latest version (ties: later export day, file, record).
{{ latest_version(ref('stg_lake__campaigns'), 'campaign_id', ['campaign_id', 'campaign_name', 'channel', 'campaign_type', 'sent_at', 'updated_at']) }}
