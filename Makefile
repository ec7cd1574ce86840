# make reproduce  : set up (first time ~3 min) and run the main job on its CPU default
# make test       : set up and run the whole test suite (20 min on this 2-core machine with .venv in place: 1,184 s; 1,599 s when setup reinstalls it; pytest on both cores)
# make lab        : open the notebooks in JupyterLab with the hvaerl kernel
.PHONY: setup reproduce test lab bench
setup:
	bash scripts/setup.sh
reproduce: setup
	.venv/bin/hvaerl reproduce
test: setup
	bash scripts/test.sh
lab: setup
	.venv/bin/jupyter lab nbs/ $$([ "$$(id -u)" = 0 ] && echo --allow-root)  # JupyterLab refuses root without the flag
bench: setup
	.venv/bin/python bench/step_cost.py
	.venv/bin/python bench/probe_cost.py
