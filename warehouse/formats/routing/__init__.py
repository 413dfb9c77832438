"""Decoders for expert-routing files of many recorders, all producing ``routes.Routes``.

One module per format; ``detect`` picks one from the content. Pure: no database here.
"""
