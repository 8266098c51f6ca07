"""Serving managed and push pools from inside nborch: nobody starts a worker for them."""

from nborch.dispatch.dispatcher import Dispatcher

__all__ = ["Dispatcher"]
