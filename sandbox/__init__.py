"""A local stand-in for the four government APIs (see README.md in this folder).

A development tool, kept apart from the production packages: it imports nothing of Vigie's and
is served as its own process (``python manage.py sandbox``); it never touches Vigie's database:
its state is its scenario files and memory.
"""
