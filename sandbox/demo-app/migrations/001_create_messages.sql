create table messages (
  id bigserial primary key,
  user_id bigint not null,
  body text not null,
  created_at timestamptz not null default now()
);
create index messages_user_id_idx on messages (user_id);
