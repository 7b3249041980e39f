"""``nnscratch playground`` and ``nnscratch train --watch``: training watched live in a page.

    server     the playground's HTTP app: the page, its sessions' routes and streams
    sessions   a session: the page's settings, its data, the thread that trains
    watch      a command-line run streamed read-only to the same page
    page.html  the page (plain JavaScript on canvases; package data, nothing fetched)

It imports the layers below the application and ``app.runs``; no other feature.
"""
