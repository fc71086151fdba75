"""Reports: tables for the terminal, JSON and CSV for machines, plots and the HTML page."""
