"""The pages ``nnscratch serve`` shows: plain HTML and JavaScript, no build step, no CDN."""
