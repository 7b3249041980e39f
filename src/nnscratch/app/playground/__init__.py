"""``nnscratch playground`` and ``nnscratch train --watch``: training watched live in a page.

    server     the playground's HTTP app: the page, its sessions' routes and streams
    sessions   a session: an explicit state machine, one lock, the thread that trains
    settings   the page's settings, checked
    sources    what a session trains, made by a factory (the seam for other networks)
    drawing    what the page draws of an epoch, read through the training loop's view
    stream     the server-sent events: numbered, a bounded replay log, one encoding
    watch      a command-line run streamed read-only to the same page
    page.html  the page (plain JavaScript on canvases; package data, nothing fetched)
    pages/     the stage pages the warnings link to, as HTML (docs/render_pages.py)
    vendor/    KaTeX, with its licence, which typesets those pages' math

It imports the layers below the application and ``app.runs``; no other feature.
"""
