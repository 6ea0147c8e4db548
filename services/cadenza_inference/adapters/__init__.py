"""Model adapters beyond Cadenza's own (model/adapter.py has the interface).

`directory` reads a pipeline directory without torch; `diffusers_audio` imports the optional
`diffusers` dependency (pip install -e ".[diffusers]") and is imported only when such a model loads.
"""
