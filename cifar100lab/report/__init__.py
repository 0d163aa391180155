"""Everything the book shows, computed from run records, by job:

* :mod:`.sources` records -> frames (one row per model, the campaign's context, intervals);
* :mod:`.tables`, :mod:`.figures`, :mod:`.prose` (facts from :mod:`.i18n`, one template per fact, two languages);
* :mod:`.studies` ablations; :mod:`.performance` the Performance page; :mod:`.models_page` the Models page;
* :mod:`.pages` the campaign's pages and the empty state; :mod:`.runpages` run pages as published;
* :mod:`.display` what notebooks show; :mod:`.explorer` the records explorer.

Nothing here trains; nothing here holds a result typed by hand (the original report's *claims* and
published references are data files in ``cifar100lab/reference``).
"""
from .display import run_summary, show_campaign, show_evaluation, show_run, show_study
from .explorer import explorer
from .models_page import models_table, write_models_page
from .pages import write_campaign_report, write_empty_pages
from .performance import write_performance_page
from .studies import write_study_report

__all__ = ["explorer", "run_summary", "show_campaign", "show_evaluation", "show_run", "show_study", "models_table", "write_models_page",
           "write_campaign_report", "write_empty_pages", "write_performance_page", "write_study_report"]
