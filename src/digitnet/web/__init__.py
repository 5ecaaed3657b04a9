"""The drawing page's room: everything that lets a person draw a digit and watch a network read it.

- ``drawing``: a drawing prepared the way MNIST's digits were, and what the network makes of it;
- ``corrections``: your own labelled digits, kept as a Kaggle-format CSV;
- ``serve``: the FastAPI app and ``digitnet serve``;
- ``export``: the same page as static files that run the network in the browser (``digitnet export --format web``);
- ``static/``: the page itself, one for both ways of running it.

The modules were ``digitnet.drawing``, ``digitnet.corrections``, ``digitnet.serve`` and ``digitnet.export.web``
before; those names still import the same modules.
"""
