"""The app as `dropsync serve` builds it, for uvicorn's --factory in the durability test."""

from fastapi import FastAPI

from service.app import create_app
from service.runtime import resolve_runtime
from service.settings import Settings

__all__ = ["create"]


def create() -> FastAPI:
    return create_app(resolve_runtime(Settings(_env_file=None)))
