"""The page's script and style: draw a session's answers in step with the video's playback.

The server fills a hidden text field (`#vl-data`) with the session's timeline JSON
(`to_json`) as the model answers; `SCRIPT` reads it ten
times a second together with the video element's `currentTime` (seconds) and draws only
the answers whose `t` is at or before it:

- `#vl-live` (beside the video): the playback position, how far the model has answered, the
  current top classes of each ranked output with score bars, the latest detections with their
  times, captions as they were emitted, the best moments so far;
- `#vl-timeline` (under the video): detections as coloured bars growing with playback
  (`.vl-det[data-label]`), moments as boxes, the saliency curve, and the playhead.

Without a video (features mode, feature file only) the position is how far the model has answered.
Drawing happens in the browser, so Gradio's event queue is needed only to push the timeline.
"""
from __future__ import annotations

SCRIPT = r"""
() => {
  const S = {raw: null, data: null};
  const esc = (s) => String(s).replace(/[&<>"']/g, (c) => ({'&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;'}[c]));
  const hue = (label) => { let h = 0; for (const c of String(label)) h = (h * 31 + c.charCodeAt(0)) % 360; return h; };
  const isRanking = (v) => Array.isArray(v) && v.length > 0 && v.every((r) => Array.isArray(r) && r.length === 2 && typeof r[1] === 'number');
  function data() {
    const el = document.querySelector('#vl-data textarea, #vl-data input');
    const raw = el ? el.value : '';
    if (raw !== S.raw) { S.raw = raw; try { S.data = raw ? JSON.parse(raw) : null; } catch (e) { S.data = null; } }
    return S.data;
  }
  function position(d) {
    const v = document.querySelector('#vl-video video');
    if (v && v.currentSrc && !isNaN(v.currentTime)) return v.ended ? Math.max(d.duration, v.currentTime) : v.currentTime;
    return d.mode === 'features' ? d.answered_s : 0;
  }
  function bars(key, ranking) {
    const rows = ranking.map(([label, p]) => `<div class="vl-row"><span class="vl-lab" style="border-color:hsl(${hue(label)},70%,45%)">${esc(label)}</span>` +
      `<span class="vl-bar"><span style="width:${(100 * p).toFixed(1)}%;background:hsl(${hue(label)},70%,55%)"></span></span><span class="vl-p">${p.toFixed(2)}</span></div>`);
    return `<div class="vl-key" data-key="${esc(key)}"><b>${esc(key)}</b>${rows.join('')}</div>`;
  }
  function render() {
    const live = document.getElementById('vl-live'), tl = document.getElementById('vl-timeline');
    if (!live || !tl) return;
    const d = data();
    if (!d) { live.innerHTML = '<p class="vl-muted">Upload a video (or pick a demo clip) and press play: the answers appear here as it plays.</p>'; tl.innerHTML = ''; return; }
    if (d.note) { live.innerHTML = `<p class="vl-muted vl-note">${esc(d.note)}</p>`; tl.innerHTML = ''; return; }
    if (d.error) { live.innerHTML = `<p class="vl-error">${esc(d.error)}</p>`; tl.innerHTML = ''; return; }
    const pos = position(d), D = Math.max(d.duration, 1e-6);
    const shown = d.answers.filter((a) => a.t <= pos + 1e-3);
    let html = `<p class="vl-pos" data-position="${pos.toFixed(2)}">at ${pos.toFixed(1)} s of ${d.duration.toFixed(1)} s · model answered up to ${d.answered_s.toFixed(1)} s` +
      ` (${d.units_per_s} units/s, ${d.played_units_per_s} played/s; first answer after ${d.first_answer_s.toFixed(2)} s)${d.done ? '' : ' …'}</p>`;
    if (pos > d.answered_s + 0.3 && !d.done) html += '<p class="vl-muted">waiting for the model…</p>';
    const current = [...shown].reverse().find((a) => Object.values(a).some(isRanking));
    if (current) html += `<div class="vl-current" data-unit="${current.unit}">` + Object.entries(current).filter(([, v]) => isRanking(v)).map(([k, v]) => bars(k, v)).join('') + '</div>';
    const recent = d.detections.filter((det) => det.start <= pos + 1e-3).slice(-6).reverse();
    if (recent.length) html += '<div class="vl-recent"><b>latest detections</b>' + recent.map((det) => `<div class="vl-row"><span class="vl-lab" style="border-color:hsl(${hue(det.label)},70%,45%)">${esc(det.label)}</span>` +
      `<span class="vl-p">${det.start.toFixed(1)}–${Math.min(det.end, pos).toFixed(1)} s</span></div>`).join('') + '</div>';
    const captions = shown.filter((a) => a.caption);
    if (captions.length) html += '<div class="vl-captions"><b>captions</b>' + captions.map((a) => `<p class="vl-caption"><span>${a.t.toFixed(1)} s</span> ${esc(a.caption)}</p>`).join('') + '</div>';
    const withMoments = [...shown].reverse().find((a) => Array.isArray(a.moments) || Array.isArray(a.segments));
    const moments = withMoments ? (withMoments.moments || withMoments.segments) : [];
    if (moments.length) html += '<div class="vl-moments"><b>moments</b>' + moments.map((m) => `<p>${m[0].toFixed(1)}–${m[1].toFixed(1)} s <span class="vl-p">${m.slice(2).map((x) => typeof x === 'number' ? x.toFixed(2) : esc(x)).join(' ')}</span></p>`).join('') + '</div>';
    const others = current ? Object.entries(current).filter(([k, v]) => !['unit', 't', 'caption', 'moments', 'segments', 'saliency'].includes(k) && !isRanking(v)) : [];
    if (others.length) html += '<div class="vl-other">' + others.map(([k, v]) => `<p><b>${esc(k)}</b> ${esc(JSON.stringify(v))}</p>`).join('') + '</div>';
    if (live.innerHTML !== html) live.innerHTML = html;
    const pct = (s) => `${(100 * Math.min(Math.max(s, 0), D) / D).toFixed(3)}%`;
    let t = '<div class="vl-track">';
    for (const det of d.detections) {
      if (det.start > pos + 1e-3) continue;
      const end = Math.min(det.end, pos);
      t += `<div class="vl-det" data-label="${esc(det.label)}" data-start="${det.start}" title="${esc(det.label)} ${det.start.toFixed(1)}–${det.end.toFixed(1)} s"` +
        ` style="left:${pct(det.start)};width:${pct(Math.max(end - det.start, 0.05))};background:hsl(${hue(det.label)},70%,55%)"><span>${esc(det.label)}</span></div>`;
    }
    for (const m of moments) t += `<div class="vl-moment" style="left:${pct(m[0])};width:${pct(m[1] - m[0])}"></div>`;
    const sal = shown.filter((a) => typeof a.saliency === 'number');
    if (sal.length) {
      const pts = sal.map((a) => `${(1000 * (a.unit + 0.5) * d.unit_seconds / D).toFixed(1)},${(40 - 38 * a.saliency).toFixed(1)}`).join(' ');
      t += `<svg class="vl-saliency" viewBox="0 0 1000 40" preserveAspectRatio="none"><polyline points="${pts}" /></svg>`;
    }
    t += `<div class="vl-head" style="left:${pct(pos)}"></div></div><div class="vl-axis"><span>0 s</span><span>${d.duration.toFixed(1)} s</span></div>`;
    if (tl.innerHTML !== t) tl.innerHTML = t;
  }
  setInterval(render, 100);
}
"""

STYLE = """
#vl-live .vl-row { display: flex; align-items: center; gap: 6px; margin: 2px 0; font-size: 14px; }
#vl-live .vl-lab { min-width: 9em; border-left: 6px solid; padding-left: 4px; }
#vl-live .vl-bar { flex: 1; height: 10px; background: #eee; border-radius: 3px; overflow: hidden; }
#vl-live .vl-bar span { display: block; height: 100%; }
#vl-live .vl-p { color: #666; font-variant-numeric: tabular-nums; }
#vl-live .vl-key, #vl-live .vl-recent { margin: 8px 0; }
#vl-live .vl-error { color: #b00020; font-weight: 600; }
#vl-live .vl-muted, #vl-live .vl-pos { color: #666; font-size: 13px; }
#vl-timeline .vl-track { position: relative; height: 64px; background: #f4f4f4; border-radius: 4px; overflow: hidden; }
#vl-timeline .vl-det { position: absolute; top: 4px; height: 26px; border-radius: 3px; overflow: hidden; opacity: 0.9; }
#vl-timeline .vl-det span { font-size: 11px; padding: 0 3px; white-space: nowrap; color: #111; }
#vl-timeline .vl-moment { position: absolute; top: 4px; height: 26px; border: 2px solid #0b57d0; background: rgba(11, 87, 208, 0.15); }
#vl-timeline .vl-saliency { position: absolute; left: 0; bottom: 0; width: 100%; height: 30px; }
#vl-timeline .vl-saliency polyline { fill: none; stroke: #e8710a; stroke-width: 2; vector-effect: non-scaling-stroke; }
#vl-timeline .vl-head { position: absolute; top: 0; bottom: 0; width: 2px; background: #d00; }
#vl-timeline .vl-axis { display: flex; justify-content: space-between; font-size: 12px; color: #666; }
"""

__all__ = ["SCRIPT", "STYLE"]
