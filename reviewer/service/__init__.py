"""The HTTP JSON service: a thin FastAPI shell over ``reviewer.engine``.

Import :func:`reviewer.service.app.create_app`; this package pulls in FastAPI,
so nothing outside the ``serve`` path imports it.
"""
