"""Assertions shared by the browser tests."""


def no_navigation_guard(page):
    """Count main-frame navigations from now on (an htmx swap is not one; a pushState is),
    and mark the window: a reload would lose the mark. Check both at the end::

        navigations = no_navigation_guard(page)
        ...
        assert navigations == [] and page.evaluate("window.__vigieNoReload") is True
    """
    navigations = []
    page.on("framenavigated", lambda frame: frame == page.main_frame and navigations.append(1))
    page.evaluate("window.__vigieNoReload = true")
    return navigations
