"""`tinyattend search`: machine-driven design exploration of attention-condenser networks for a board.

The pipeline of one search, one module each:

    data.py     the user's images (folder, .npz, or sklearn's digits) -> a seeded, stratified split
    space.py    the search space (the zoo's building blocks) and the architecture one trial samples
    train.py    brief, seeded CPU training in PyTorch
    trial.py    one trial, run as a Ray task: measure the untrained candidate on the emulated board and
                reject it if it cannot meet the limits, else train, export, convert, run and score it
    study.py    the driver: an Optuna study (multi-objective TPE) in SQLite or any RDB, trials as Ray tasks
    results.py  trials.csv, summary.json, the Pareto front's projects, the plot and the live table

The cost model is the toolchain itself: every candidate is converted to int8, built and run on the
emulated board, so instructions, peak RAM and flash are measured, not estimated from MACs.
"""
