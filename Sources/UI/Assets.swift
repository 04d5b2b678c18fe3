/// The page's one script and stylesheet, written here (no CDN, no third-party code).
enum Assets {
  static func serve(_ name: String) -> Response {
    switch name {
    case "orch.js": return Page.response(type: "text/javascript; charset=utf-8", script)
    case "orch.css": return Page.response(type: "text/css; charset=utf-8", style)
    default: return Page.notFound()
    }
  }

  static let style = """
    body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #222; }
    nav { background: #223; padding: 6px 12px; } nav a { color: #fff; margin-right: 12px; text-decoration: none; }
    main { padding: 8px 16px; }
    table { border-collapse: collapse; margin: 8px 0; } th, td { border-bottom: 1px solid #ddd; padding: 2px 8px; text-align: left; }
    th { background: #f4f4f8; position: sticky; top: 0; }
    td.metric, td[class^=count-] { text-align: right; font-variant-numeric: tabular-nums; }
    .error { background: #fee; border: 1px solid #c66; padding: 4px 8px; margin: 6px 0; white-space: pre-wrap; }
    .state-running { color: #06c; } .state-completed { color: #080; } .state-failed, .state-timeout, .state-out_of_memory { color: #c00; }
    .state-cancelled { color: #888; }
    pre#log { background: #111; color: #ddd; padding: 8px; max-height: 480px; overflow: auto; white-space: pre-wrap; }
    form.action { display: inline; } .toolbar { margin: 8px 0; } .toolbar > * { margin-right: 6px; }
    a.button, button { padding: 2px 8px; border: 1px solid #889; border-radius: 3px; background: #f6f6fa; color: #223; text-decoration: none; cursor: pointer; font: inherit; }
    form#filter label, form#curve-options label { margin-right: 10px; }
    #daemon { margin: 6px 0; color: #444; } .daemon-running { color: #080; } .daemon-stopped { color: #c00; }
    svg#curves text { font-size: 11px; fill: #444; } svg#curves path.curve:hover, svg#curves path.curve-mean:hover { stroke-width: 3; }
    img.plot { max-width: 100%; border: 1px solid #ddd; }
    div.scroll { overflow-x: auto; max-width: 100%; } div.scroll td, div.scroll th { white-space: nowrap; }
    table#metrics td:first-child, table#metrics th:first-child { position: sticky; left: 0; background: #fff; }
    table#metrics th:first-child { background: #f4f4f8; z-index: 1; }
    .legend { margin: 4px 0; } .legend svg.swatch { margin: 0 4px 0 10px; vertical-align: -1px; }
    """

  static let script = """
    'use strict';
    (function () {
      function $(sel, root) { return (root || document).querySelector(sel); }
      function $$(sel, root) { return Array.prototype.slice.call((root || document).querySelectorAll(sel)); }
      function cssEscape(s) { return String(s).replace(/["\\\\]/g, '\\\\$&'); }
      function text(el, v) { if (el) { el.textContent = String(v); } }

      // Actions: confirm first, then post the selected rows' ids.
      $$('form.action').forEach(function (form) {
        form.addEventListener('submit', function (ev) {
          var ids = form.querySelector('input.selected-jobs');
          if (ids) {
            ids.value = $$('input.select:checked').map(function (c) { return c.value; }).join(',');
            if (!ids.value) { ev.preventDefault(); alert('Select rows first.'); return; }
          }
          if (!window.confirm(form.getAttribute('data-confirm') || 'Are you sure?')) { ev.preventDefault(); return; }
          form.querySelector('input[name=confirmed]').value = '1';
        });
      });

      // Compare curves: the selected rows' ids go to the curves view.
      var compare = $('#compare-curves');
      if (compare) {
        compare.addEventListener('click', function (ev) {
          var ids = $$('input.select:checked').map(function (c) { return c.value; });
          if (ids.length) { ev.preventDefault(); window.location = compare.getAttribute('data-base') + '?jobs=' + ids.join(','); }
        });
      }

      // A click on a column header of the runs table sorts by it (again: descending).
      var filter = $('form#filter');
      if (filter) {
        $$('table#runs th').forEach(function (th) {
          var name = th.textContent;
          if (!name) { return; }
          th.style.cursor = 'pointer';
          th.addEventListener('click', function () {
            var sort = filter.querySelector('input[name=sort]');
            sort.value = sort.value === name ? '-' + name : name;
            filter.submit();
          });
        });
      }

      function setCounts(c) {
        $$('[data-sweep="' + cssEscape(c.sweep) + '"]').forEach(function (row) {
          ['pending', 'running', 'done', 'failed', 'cancelled'].forEach(function (k) { text($('.count-' + k, row), c[k]); });
          var ended = c.done + c.failed + c.cancelled;
          var bar = $('progress.sweep-progress', row);
          if (bar) { bar.max = Math.max(c.total, 1); bar.value = ended; }
          text($('.ended', row), ended); text($('.total', row), c.total);
        });
      }

      function setState(j) {
        var row = $('tr[data-job="' + j.id + '"]');
        if (row) { var cell = $('td.state', row); if (cell) { text(cell, j.state); cell.className = 'state state-' + j.state.toLowerCase(); } }
        var job = $('#job');
        if (job && job.getAttribute('data-job') === String(j.id)) {
          var s = $('span.state', job);
          if (s) { text(s, j.state); s.className = 'state state-' + j.state.toLowerCase(); }
          refreshAttempts(j.id);
        }
      }

      // The attempts table (end time, exit code, state) is re-read whole when the job's state changes.
      function refreshAttempts(id) {
        var table = $('table#attempts');
        if (!table) { return; }
        fetch('/jobs/' + id + '/attempts', { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.text() : null; }).then(function (t) {
          var now = $('table#attempts');
          if (t && now) { var holder = document.createElement('div'); holder.innerHTML = t; var fresh = $('table#attempts', holder); if (fresh) { now.parentNode.replaceChild(fresh, now); } }
        }, function () {});
      }

      // A live curves view re-reads its SVG (at most once a second) when a shown job reports.
      var box = $('#curves-box'), refreshPending = false;
      function refreshCurves() {
        if (refreshPending) { return; }
        refreshPending = true;
        setTimeout(function () {
          var url = window.location.pathname + window.location.search + (window.location.search ? '&' : '?') + 'fragment=1';
          fetch(url, { credentials: 'same-origin' }).then(function (r) { return r.ok ? r.text() : null; }).then(function (svg) {
            refreshPending = false;
            if (svg) { box.innerHTML = svg; }
          }, function () { refreshPending = false; });
        }, 1000);
      }

      function addMetric(m) {
        var table = $('table#metrics');
        if (table && $('#job') && $('#job').getAttribute('data-job') === String(m.job)) {
          var at = m.final ? 'final' : (m.epoch !== null ? 'epoch ' + m.epoch : (m.step !== null ? 'step ' + m.step : null));
          if (at && !$('tr[data-at="' + at + '"]', table)) {
            var tr = document.createElement('tr'); tr.setAttribute('data-at', at);
            var td = document.createElement('td'); td.textContent = at; tr.appendChild(td);
            td = document.createElement('td'); td.textContent = m.name + ' ' + m.value; tr.appendChild(td);
            $('tbody', table).appendChild(tr);
          }
        }
        if (box) {
          var shown = (box.getAttribute('data-jobs') || '').split(',');
          if (shown.indexOf(String(m.job)) >= 0 && m.name === box.getAttribute('data-metric')) { refreshCurves(); }
        }
      }

      var live = $('#live');
      if (live && window.EventSource) {
        var source = new EventSource(live.getAttribute('data-events'));
        source.addEventListener('counts', function (e) { setCounts(JSON.parse(e.data)); });
        source.addEventListener('job', function (e) { setState(JSON.parse(e.data)); });
        source.addEventListener('metric', function (e) { addMetric(JSON.parse(e.data)); });
      }

      // The job page's log follows while the job has not ended.
      var log = $('pre#log');
      if (log) {
        var following = true;
        var tick = function () {
          var state = $('#job span.state');
          var ended = state && ['PENDING', 'RUNNING'].indexOf(state.textContent) < 0;
          fetch('/jobs/' + log.getAttribute('data-job') + '/log?offset=' + log.getAttribute('data-offset'), { credentials: 'same-origin' })
            .then(function (r) {
              var next = r.headers.get('X-Log-Offset');
              return r.text().then(function (t) {
                if (t) {
                  var atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 4;
                  log.appendChild(document.createTextNode(t));
                  if (atBottom) { log.scrollTop = log.scrollHeight; }
                }
                if (next) { log.setAttribute('data-offset', next); }
              });
            })
            .then(function () { if (ended) { following = false; } if (following) { setTimeout(tick, 1000); } },
                  function () { setTimeout(tick, 3000); });
        };
        setTimeout(tick, 1000);
      }
    })();
    """
}
