// meshbook report: clicking a bar of the timeline shows its events (copied from the section
// list below, filtered to the step and the cluster) in the inspector. No network, no library.
(function () {
  'use strict';
  var inspector = document.getElementById('inspector');
  var timeline = document.querySelector('svg.timeline');

  function el(tag, cls, content) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (content !== undefined) e.textContent = content;
    return e;
  }

  function hasStep(li, step) {
    return (' ' + (li.getAttribute('data-steps') || '') + ' ').indexOf(' ' + step + ' ') >= 0;
  }

  // Shows the events of a section (or of one of its steps, on one cluster) in the inspector;
  // `quiet` leaves out the error (the failure block above already shows it).
  function select(sec, step, cluster, shape, quiet) {
    var selected = document.querySelectorAll('.shape.selected');
    for (var i = 0; i < selected.length; i++) selected[i].classList.remove('selected');
    if (shape) shape.classList.add('selected');
    var section = document.getElementById('sec-' + sec);
    if (!section || !inspector) return;
    var title = section.getAttribute('data-title') || '';
    var status = section.getAttribute('data-status') || '';
    var duration = section.getAttribute('data-duration') || '';
    var error = section.querySelector(':scope > pre.error');
    if (step) {
      var item = section.querySelector('ol.steps li[data-step="' + step + '"]');
      if (item) {
        title += ' \u203a ' + item.getAttribute('data-title');
        status = item.getAttribute('data-status');
        duration = item.getAttribute('data-duration');
        error = item.querySelector('pre.error') || error;
      }
    }
    inspector.textContent = '';
    inspector.appendChild(el('h3', '', title));
    var meta = [status, duration].filter(Boolean).join(' \u00b7 ');
    if (cluster) meta += ' \u00b7 on ' + cluster;
    inspector.appendChild(el('p', 'meta', meta));
    if (error && status === 'failed' && !quiet) inspector.appendChild(error.cloneNode(true));
    var list = el('ol', 'events');
    var rows = section.querySelectorAll(':scope > ol.events > li');
    for (var r = 0; r < rows.length; r++) {
      var li = rows[r];
      if (step && !hasStep(li, step)) continue;
      var on = li.getAttribute('data-cluster');
      if (cluster && on && on !== cluster) continue;
      list.appendChild(li.cloneNode(true));
    }
    if (list.children.length) inspector.appendChild(list);
    else inspector.appendChild(el('p', 'hint', 'No events recorded here.'));
    var open = el('a', '', 'Open the section in the list below');
    open.href = '#sec-' + sec;
    open.addEventListener('click', function () { section.open = true; });
    inspector.appendChild(open);
  }

  function fromShape(shape, scroll) {
    select(shape.getAttribute('data-sec'), shape.getAttribute('data-step'),
      shape.getAttribute('data-cluster'), shape);
    if (scroll && inspector) inspector.scrollIntoView({ block: 'nearest' });
  }

  if (timeline) {
    var shapes = timeline.querySelectorAll('.shape');
    for (var s = 0; s < shapes.length; s++) shapes[s].setAttribute('tabindex', '0');
    timeline.addEventListener('click', function (ev) {
      var shape = ev.target.closest ? ev.target.closest('.shape') : null;
      if (shape) fromShape(shape, true);
    });
    timeline.addEventListener('keydown', function (ev) {
      if (ev.key !== 'Enter' && ev.key !== ' ') return;
      var shape = ev.target.closest ? ev.target.closest('.shape') : null;
      if (shape) { ev.preventDefault(); fromShape(shape, true); }
    });
  }

  // The failure: shown in the inspector from the start, and one click away on the timeline.
  function failedShape(sec, step) {
    if (!timeline) return null;
    var q = '.shape.failed[data-sec="' + sec + '"]';
    return (step && timeline.querySelector('.bar.step' + q + '[data-step="' + step + '"]')) ||
      timeline.querySelector('.bar.section' + q);
  }
  var goto = document.querySelector('button.goto');
  if (goto) {
    var sec = goto.getAttribute('data-sec');
    var step = goto.getAttribute('data-step');
    var shape = failedShape(sec, step);
    select(sec, step, shape && shape.getAttribute('data-cluster'), shape, true);
    goto.addEventListener('click', function () {
      var target = failedShape(sec, step);
      select(sec, step, target && target.getAttribute('data-cluster'), target);
      document.getElementById('timeline').scrollIntoView({ behavior: 'smooth' });
    });
  }

  // A link to a section (`report.html#sec-3`) opens it and shows its events above.
  function follow() {
    var target = document.getElementById(location.hash.slice(1));
    if (!target || target.tagName !== 'DETAILS') return;
    target.open = true;
    var sec = target.getAttribute('data-sec');
    if (sec && timeline) {
      select(sec, null, null, timeline.querySelector('.bar.section[data-sec="' + sec + '"]'));
    }
  }
  window.addEventListener('hashchange', follow);
  if (location.hash) follow();

  document.body.setAttribute('data-ready', 'yes');
})();
