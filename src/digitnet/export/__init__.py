"""Exporters: a trained network written in formats that other programs read.

- ``onnx``: an ONNX graph (``to_onnx``, ``save_onnx``) that onnxruntime, onnxruntime-web and any other ONNX runtime
  can run.

Each exporter reads the network's ``layers`` in order and writes the equivalent operation for each, so a new layer
type is one more case in each exporter.
"""
