"""What the token table shows: cells, colours, sort orders, the filter, column widths.

Pure functions over `core` records and Rich `Text`, no widgets, so the rules for
what a row looks like can be tested without running an app, and the table widget
(`tui.widgets.token_table`) only has to put the cells on screen. One module per idea:

- `texts`: a record's fields in words (`in 89 days`, `active (legacy)`, a safe name);
- `rows`: one record as a table row, and its cells;
- `sorting`: the sort orders, and the row order each gives;
- `filtering`: the rows a filter lets through, and their counts;
- `columns`: the columns, their natural widths, and which fit a narrow terminal;
- `view`: every row of one version of the store, built off the UI thread.
"""
