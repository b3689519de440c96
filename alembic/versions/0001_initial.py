"""initial

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 21:22:05.606043
"""

from alembic import op
import sqlalchemy as sa
from sqlalchemy import Text
import backend.db.models
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('provider_tokens',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('token', sa.Text(), nullable=True),
    sa.Column('expires_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('refreshing_until', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('rate_windows',
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('window_no', sa.BigInteger(), nullable=False),
    sa.Column('used', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('key')
    )
    op.create_table('step_log',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('journey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('enrollment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=64), nullable=False),
    sa.Column('at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('step_log', schema=None) as batch_op:
        batch_op.create_index('ix_step_log_contact', ['workspace_id', 'contact_id', 'at'], unique=False)
        batch_op.create_index('ix_step_log_journey_node', ['journey_id', 'node_id', 'at'], unique=False)

    op.create_table('users',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_login_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('email')
    )
    op.create_table('workspaces',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('slug', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('locale', sa.String(length=16), nullable=False),
    sa.Column('settings', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('slug')
    )
    op.create_table('api_keys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('key_hash')
    )
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.create_index('ix_api_keys_workspace', ['workspace_id'], unique=False)

    op.create_table('contacts',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('anonymous_id', sa.String(length=255), nullable=True),
    sa.Column('email', sa.String(length=320), nullable=True),
    sa.Column('phone', sa.String(length=32), nullable=True),
    sa.Column('wechat_openid', sa.String(length=128), nullable=True),
    sa.Column('push_tokens', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('consent', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=True),
    sa.Column('locale', sa.String(length=16), nullable=True),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'external_id', name='uq_contacts_external_id')
    )
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.create_index('ix_contacts_anonymous_id', ['workspace_id', 'anonymous_id'], unique=False)
        batch_op.create_index('ix_contacts_email', ['workspace_id', 'email'], unique=False)
        batch_op.create_index('ix_contacts_phone', ['workspace_id', 'phone'], unique=False)
        batch_op.create_index('uq_contacts_anonymous_only', ['workspace_id', 'anonymous_id'], unique=True, sqlite_where=sa.text('external_id IS NULL AND anonymous_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NULL AND anonymous_id IS NOT NULL'))

    op.create_table('journeys',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('draft', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('draft_revision', sa.Integer(), nullable=False),
    sa.Column('published_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('updated_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.ForeignKeyConstraint(['created_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['updated_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('journeys', schema=None) as batch_op:
        batch_op.create_index('ix_journeys_workspace', ['workspace_id', 'status'], unique=False)

    op.create_table('memberships',
    sa.Column('user_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', 'workspace_id')
    )
    op.create_table('providers',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('config', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('enabled', sa.Boolean(), nullable=False),
    sa.Column('rate_per_second', sa.Double(), nullable=True),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.create_index('ix_providers_workspace_channel', ['workspace_id', 'channel'], unique=False)

    op.create_table('templates',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('tags', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('draft', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('draft_revision', sa.Integer(), nullable=False),
    sa.Column('published_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'key', name='uq_templates_key')
    )
    op.create_table('events',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('properties', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('occurred_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('received_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('message_id', sa.String(length=255), nullable=True),
    sa.Column('source', sa.String(length=32), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'message_id', name='uq_events_message_id')
    )
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.create_index('ix_events_contact_name_time', ['workspace_id', 'contact_id', 'name', 'occurred_at'], unique=False)
        batch_op.create_index('ix_events_name_time', ['workspace_id', 'name', 'occurred_at'], unique=False)

    op.create_table('journey_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('journey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('graph', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('published_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('published_by', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('published_by_key', sa.String(length=16), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.ForeignKeyConstraint(['journey_id'], ['journeys.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['published_by'], ['users.id'], ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('journey_id', 'number', name='uq_journey_versions_number')
    )
    with op.batch_alter_table('journey_versions', schema=None) as batch_op:
        batch_op.create_index('ix_journey_versions_status', ['workspace_id', 'status'], unique=False)

    op.create_table('node_counters',
    sa.Column('journey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('outcome', sa.String(length=64), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('count', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['journey_id'], ['journeys.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('journey_id', 'node_id', 'outcome')
    )
    op.create_table('outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('idempotency_key', sa.String(length=200), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('enrollment_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('journey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('node_id', sa.String(length=64), nullable=True),
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('template_key', sa.String(length=200), nullable=True),
    sa.Column('template_version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=True),
    sa.Column('payload', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('provider_message_id', sa.String(length=255), nullable=True),
    sa.Column('public_id', sa.String(length=40), nullable=True),
    sa.Column('links', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('opened_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('clicked_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('test', sa.Boolean(), nullable=False),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('sent_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'idempotency_key', name='uq_outbox_idempotency_key')
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending', ['next_attempt_at'], unique=False, sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))
        batch_op.create_index('ix_outbox_provider_message_id', ['workspace_id', 'provider_message_id'], unique=False)
        batch_op.create_index('ix_outbox_public_id', ['public_id'], unique=True)
        batch_op.create_index('ix_outbox_sending', ['claimed_until'], unique=False, sqlite_where=sa.text("status = 'sending'"), postgresql_where=sa.text("status = 'sending'"))
        batch_op.create_index('ix_outbox_status', ['workspace_id', 'status', 'created_at'], unique=False)

    op.create_table('subscriptions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('external_id', sa.String(length=255), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('status', sa.String(length=32), nullable=False),
    sa.Column('start_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('end_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('duration', sa.String(length=32), nullable=True),
    sa.Column('auto_renew', sa.Boolean(), nullable=False),
    sa.Column('auto_renew_before', sa.Boolean(), nullable=False),
    sa.Column('attributes', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('updated_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('workspace_id', 'external_id', name='uq_subscriptions_external_id')
    )
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.create_index('ix_subscriptions_contact', ['workspace_id', 'contact_id'], unique=False)
        batch_op.create_index('ix_subscriptions_end', ['workspace_id', 'end_at'], unique=False)

    op.create_table('template_versions',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('template_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('number', sa.Integer(), nullable=False),
    sa.Column('channels', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('compiled', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=False),
    sa.Column('created_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['template_id'], ['templates.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('template_id', 'number', name='uq_template_versions_number')
    )
    op.create_table('enrollments',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('workspace_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('journey_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('version_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('contact_id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('node_id', sa.String(length=64), nullable=False),
    sa.Column('node_entered_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('due_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('wait_event', sa.String(length=200), nullable=True),
    sa.Column('wake_event', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('state', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('context', sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), 'postgresql'), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('control', sa.Boolean(), nullable=False),
    sa.Column('trigger_key', sa.String(length=64), nullable=True),
    sa.Column('entered_at', backend.db.models.UTCDateTime(timezone=True), nullable=False),
    sa.Column('finished_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.Column('exit_reason', sa.String(length=200), nullable=True),
    sa.Column('converted_at', backend.db.models.UTCDateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['contact_id'], ['contacts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['journey_id'], ['journeys.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['version_id'], ['journey_versions.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['workspace_id'], ['workspaces.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.create_index('ix_enrollments_contact', ['workspace_id', 'contact_id'], unique=False)
        batch_op.create_index('ix_enrollments_due', ['due_at'], unique=False, sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.create_index('ix_enrollments_journey_contact', ['journey_id', 'contact_id'], unique=False)
        batch_op.create_index('ix_enrollments_version_node', ['version_id', 'node_id', 'status'], unique=False)
        batch_op.create_index('ix_enrollments_waiting', ['workspace_id', 'wait_event', 'contact_id'], unique=False, sqlite_where=sa.text('wait_event IS NOT NULL'), postgresql_where=sa.text('wait_event IS NOT NULL'))
        batch_op.create_index('uq_enrollments_trigger_key', ['journey_id', 'contact_id', 'trigger_key'], unique=True, sqlite_where=sa.text('trigger_key IS NOT NULL'), postgresql_where=sa.text('trigger_key IS NOT NULL'))



def downgrade() -> None:
    with op.batch_alter_table('enrollments', schema=None) as batch_op:
        batch_op.drop_index('uq_enrollments_trigger_key', sqlite_where=sa.text('trigger_key IS NOT NULL'), postgresql_where=sa.text('trigger_key IS NOT NULL'))
        batch_op.drop_index('ix_enrollments_waiting', sqlite_where=sa.text('wait_event IS NOT NULL'), postgresql_where=sa.text('wait_event IS NOT NULL'))
        batch_op.drop_index('ix_enrollments_version_node')
        batch_op.drop_index('ix_enrollments_journey_contact')
        batch_op.drop_index('ix_enrollments_due', sqlite_where=sa.text("status = 'active'"), postgresql_where=sa.text("status = 'active'"))
        batch_op.drop_index('ix_enrollments_contact')

    op.drop_table('enrollments')
    op.drop_table('template_versions')
    with op.batch_alter_table('subscriptions', schema=None) as batch_op:
        batch_op.drop_index('ix_subscriptions_end')
        batch_op.drop_index('ix_subscriptions_contact')

    op.drop_table('subscriptions')
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_status')
        batch_op.drop_index('ix_outbox_sending', sqlite_where=sa.text("status = 'sending'"), postgresql_where=sa.text("status = 'sending'"))
        batch_op.drop_index('ix_outbox_public_id')
        batch_op.drop_index('ix_outbox_provider_message_id')
        batch_op.drop_index('ix_outbox_pending', sqlite_where=sa.text("status = 'pending'"), postgresql_where=sa.text("status = 'pending'"))

    op.drop_table('outbox')
    op.drop_table('node_counters')
    with op.batch_alter_table('journey_versions', schema=None) as batch_op:
        batch_op.drop_index('ix_journey_versions_status')

    op.drop_table('journey_versions')
    with op.batch_alter_table('events', schema=None) as batch_op:
        batch_op.drop_index('ix_events_name_time')
        batch_op.drop_index('ix_events_contact_name_time')

    op.drop_table('events')
    op.drop_table('templates')
    with op.batch_alter_table('providers', schema=None) as batch_op:
        batch_op.drop_index('ix_providers_workspace_channel')

    op.drop_table('providers')
    op.drop_table('memberships')
    with op.batch_alter_table('journeys', schema=None) as batch_op:
        batch_op.drop_index('ix_journeys_workspace')

    op.drop_table('journeys')
    with op.batch_alter_table('contacts', schema=None) as batch_op:
        batch_op.drop_index('uq_contacts_anonymous_only', sqlite_where=sa.text('external_id IS NULL AND anonymous_id IS NOT NULL'), postgresql_where=sa.text('external_id IS NULL AND anonymous_id IS NOT NULL'))
        batch_op.drop_index('ix_contacts_phone')
        batch_op.drop_index('ix_contacts_email')
        batch_op.drop_index('ix_contacts_anonymous_id')

    op.drop_table('contacts')
    with op.batch_alter_table('api_keys', schema=None) as batch_op:
        batch_op.drop_index('ix_api_keys_workspace')

    op.drop_table('api_keys')
    op.drop_table('workspaces')
    op.drop_table('users')
    with op.batch_alter_table('step_log', schema=None) as batch_op:
        batch_op.drop_index('ix_step_log_journey_node')
        batch_op.drop_index('ix_step_log_contact')

    op.drop_table('step_log')
    op.drop_table('rate_windows')
    op.drop_table('provider_tokens')
