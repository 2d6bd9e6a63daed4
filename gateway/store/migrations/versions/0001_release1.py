"""release 1: the schema before migrations

Revision ID: 0001
Revises: 
Create Date: 2026-12-06 17:05:55.687474
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('api_keys',
    sa.Column('key_sha256', sa.String(length=64), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('key_sha256')
    )
    op.create_table('audit_checkpoints',
    sa.Column('tree_size', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('root_hash', sa.LargeBinary(length=32), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tree_size')
    )
    op.create_table('audit_entries',
    sa.Column('index', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('time', sa.DateTime(timezone=True), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=True),
    sa.Column('actor', sa.String(length=128), nullable=False),
    sa.Column('event', sa.String(length=64), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=True),
    sa.Column('entry', sa.Text(), nullable=False),
    sa.Column('leaf_hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('index')
    )
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_audit_entries_event'), ['event'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_tenant'), ['tenant'], unique=False)
        batch_op.create_index(batch_op.f('ix_audit_entries_time'), ['time'], unique=False)

    op.create_table('audit_tree',
    sa.Column('node', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=False, nullable=False),
    sa.Column('hash', sa.LargeBinary(length=32), nullable=False),
    sa.PrimaryKeyConstraint('node')
    )
    op.create_table('public_feedback',
    sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('check_id', sa.String(length=40), nullable=False),
    sa.Column('verdict_was_wrong', sa.Boolean(), nullable=False),
    sa.Column('comment', sa.Text(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('public_feedback', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_public_feedback_check_id'), ['check_id'], unique=False)

    op.create_table('registered_works',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('title', sa.String(length=256), nullable=False),
    sa.Column('owner', sa.String(length=256), nullable=False),
    sa.Column('fingerprints', sa.JSON(), nullable=False),
    sa.Column('asset_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_table('registry',
    sa.Column('content_id', sa.String(length=16), nullable=False),
    sa.Column('video_id', sa.String(length=32), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('asset_sha256', sa.String(length=64), nullable=False),
    sa.Column('fingerprints', sa.JSON(), nullable=False),
    sa.Column('watermark_alg', sa.String(length=64), nullable=False),
    sa.Column('manifest_id', sa.String(length=128), nullable=True),
    sa.Column('manifest_store', sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint('content_id')
    )
    with op.batch_alter_table('registry', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_registry_manifest_id'), ['manifest_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_registry_video_id'), ['video_id'], unique=False)

    op.create_table('registry_fingerprint_bands',
    sa.Column('key', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('frame_hash', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.Column('content_key', sa.BigInteger(), autoincrement=False, nullable=False),
    sa.PrimaryKeyConstraint('key', 'frame_hash', 'content_key'),
    sqlite_with_rowid=False
    )
    op.create_table('tenant_schedule',
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('last_claimed_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('tenant')
    )
    op.create_table('videos',
    sa.Column('id', sa.String(length=32), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('prompt', sa.Text(), nullable=False),
    sa.Column('prompt_sha256', sa.String(length=64), nullable=False),
    sa.Column('model', sa.String(length=128), nullable=False),
    sa.Column('seconds', sa.String(length=8), nullable=False),
    sa.Column('size', sa.String(length=16), nullable=False),
    sa.Column('seed', sa.BigInteger(), nullable=False),
    sa.Column('content_id', sa.String(length=16), nullable=False),
    sa.Column('policy', sa.String(length=128), nullable=False),
    sa.Column('decision_id', sa.String(length=40), nullable=False),
    sa.Column('reference_path', sa.String(length=512), nullable=True),
    sa.Column('video_path', sa.String(length=512), nullable=True),
    sa.Column('thumbnail_path', sa.String(length=512), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('review', sa.String(length=16), nullable=True),
    sa.Column('error_code', sa.String(length=64), nullable=True),
    sa.Column('error_message', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('completed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_videos_content_id'), ['content_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_videos_review'), ['review'], unique=False)
        batch_op.create_index(batch_op.f('ix_videos_seq'), ['seq'], unique=False)
        batch_op.create_index(batch_op.f('ix_videos_status'), ['status'], unique=False)
        batch_op.create_index(batch_op.f('ix_videos_tenant'), ['tenant'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_videos_tenant'))
        batch_op.drop_index(batch_op.f('ix_videos_status'))
        batch_op.drop_index(batch_op.f('ix_videos_seq'))
        batch_op.drop_index(batch_op.f('ix_videos_review'))
        batch_op.drop_index(batch_op.f('ix_videos_content_id'))

    op.drop_table('videos')
    op.drop_table('tenant_schedule')
    op.drop_table('registry_fingerprint_bands')
    with op.batch_alter_table('registry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_video_id'))
        batch_op.drop_index(batch_op.f('ix_registry_manifest_id'))

    op.drop_table('registry')
    op.drop_table('registered_works')
    with op.batch_alter_table('public_feedback', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_public_feedback_check_id'))

    op.drop_table('public_feedback')
    op.drop_table('audit_tree')
    with op.batch_alter_table('audit_entries', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_audit_entries_time'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_tenant'))
        batch_op.drop_index(batch_op.f('ix_audit_entries_event'))

    op.drop_table('audit_entries')
    op.drop_table('audit_checkpoints')
    op.drop_table('api_keys')
