-- Web and app sessions (int_web_sessions) published for reports and analysts: how far each session went
-- in the shop funnel and whose it was.

select * from {{ ref('int_web_sessions') }}
