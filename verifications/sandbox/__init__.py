"""A local stand-in for the four government APIs (see README.md in this folder).

Served as its own process (`python manage.py sandbox`); it never touches Vigie's database: its
state is its scenario files and memory.
"""
