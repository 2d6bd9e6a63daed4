"""characters, hash lists, PDQ, video-to-video columns

Visual safety (consenting characters and protected persons, imported PDQ hash lists, PDQ beside pHash for registered
works) and video-to-video jobs (the source clip, its operation, the parent link in the registry, spritesheets).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06 18:11:03.154880
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('character_grants',
    sa.Column('character_id', sa.String(length=40), nullable=False),
    sa.Column('tenant', sa.String(length=128), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('character_id', 'tenant')
    )
    op.create_table('characters',
    sa.Column('id', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=80), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('owner_tenant', sa.String(length=128), nullable=True),
    sa.Column('embeddings', sa.JSON(), nullable=False),
    sa.Column('video_sha256', sa.String(length=64), nullable=False),
    sa.Column('video_path', sa.String(length=512), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_characters_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_characters_owner_tenant'), ['owner_tenant'], unique=False)

    op.create_table('hash_list_entries',
    sa.Column('list_name', sa.String(length=64), nullable=False),
    sa.Column('pdq', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('list_name', 'pdq'),
    sqlite_with_rowid=False
    )
    op.create_table('hash_lists',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('action', sa.String(length=16), nullable=False),
    sa.Column('source', sa.String(length=256), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('registered_work_pdq',
    sa.Column('work_id', sa.String(length=32), nullable=False),
    sa.Column('pdq', sa.String(length=64), nullable=False),
    sa.PrimaryKeyConstraint('work_id', 'pdq')
    )
    with op.batch_alter_table('registry', schema=None) as batch_op:
        batch_op.add_column(sa.Column('parent_content_id', sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f('ix_registry_parent_content_id'), ['parent_content_id'], unique=False)

    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.add_column(sa.Column('spritesheet_path', sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column('operation', sa.String(length=16), server_default='create', nullable=False))
        batch_op.add_column(sa.Column('source_path', sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column('source_video_id', sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f('ix_videos_source_video_id'), ['source_video_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('videos', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_videos_source_video_id'))
        batch_op.drop_column('source_video_id')
        batch_op.drop_column('source_path')
        batch_op.drop_column('operation')
        batch_op.drop_column('spritesheet_path')

    with op.batch_alter_table('registry', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_registry_parent_content_id'))
        batch_op.drop_column('parent_content_id')

    op.drop_table('registered_work_pdq')
    op.drop_table('hash_lists')
    op.drop_table('hash_list_entries')
    with op.batch_alter_table('characters', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_characters_owner_tenant'))
        batch_op.drop_index(batch_op.f('ix_characters_kind'))

    op.drop_table('characters')
    op.drop_table('character_grants')
