"""SQL storage behind the core's ports: SQLModel tables, Alembic migrations, stores."""
