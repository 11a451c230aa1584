// The table viewer of a table page: filter, sort and page every row of the table, which the page's
// <name>.data.js holds (a script, so it loads from file:// too). No network, no library.
(function () {
  "use strict";
  var data = window.SITE_TABLE, box = document.getElementById("viewer");
  if (!data || !box) return;
  var PAGE = 50, page = 0, sortBy = -1, ascending = true, shown = data.rows;
  var table = document.getElementById("rows-table"), status = document.getElementById("viewer-status");
  var tbody = table.tBodies[0];

  var controls = document.createElement("div");
  controls.className = "controls";
  controls.innerHTML =
    '<div><label for="filter-text">Filter rows</label><input id="filter-text" type="search" size="28"></div>' +
    '<div><label for="filter-column">in column</label><select id="filter-column"><option value="-1">any column</option></select></div>' +
    '<div><button type="button" id="page-prev">Previous page</button> <button type="button" id="page-next">Next page</button></div>';
  box.insertBefore(controls, box.firstChild);
  var text = document.getElementById("filter-text"), column = document.getElementById("filter-column");
  data.columns.forEach(function (name, i) {
    var option = document.createElement("option");
    option.value = String(i);
    option.textContent = name;
    column.appendChild(option);
  });

  // Each header becomes a button: sorting is reachable by keyboard and its state is announced (aria-sort).
  var headers = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(headers, function (th, i) {
    var button = document.createElement("button");
    button.type = "button";
    button.textContent = th.textContent;
    var arrow = document.createElement("span");
    arrow.className = "arrow";
    arrow.setAttribute("aria-hidden", "true");  // the state is in aria-sort; the arrow is for the eye
    button.appendChild(arrow);
    button.addEventListener("click", function () {
      ascending = sortBy === i ? !ascending : true;
      sortBy = i;
      apply();
    });
    th.textContent = "";
    th.appendChild(button);
  });

  function compare(a, b) {
    var x = a[sortBy], y = b[sortBy], nx = Number(x), ny = Number(y);
    if (x === "" && y !== "") return 1;
    if (y === "" && x !== "") return -1;
    var order = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : x < y ? -1 : x > y ? 1 : 0;
    return ascending ? order : -order;
  }

  function apply() {
    var needle = text.value.trim().toLowerCase(), only = Number(column.value);
    shown = data.rows.filter(function (row) {
      if (!needle) return true;
      var cells = only < 0 ? row : [row[only]];
      return cells.some(function (cell) { return cell.toLowerCase().indexOf(needle) >= 0; });
    });
    if (sortBy >= 0) shown = shown.slice().sort(compare);
    Array.prototype.forEach.call(headers, function (th, i) {
      if (i === sortBy) th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
      else th.removeAttribute("aria-sort");
    });
    page = 0;
    render();
  }

  function render() {
    var pages = Math.max(1, Math.ceil(shown.length / PAGE));
    page = Math.min(Math.max(page, 0), pages - 1);
    var start = page * PAGE, rows = shown.slice(start, start + PAGE), fragment = document.createDocumentFragment();
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      row.forEach(function (cell) {
        var td = document.createElement("td");
        td.textContent = cell;
        tr.appendChild(td);
      });
      fragment.appendChild(tr);
    });
    tbody.textContent = "";
    tbody.appendChild(fragment);
    status.textContent = shown.length
      ? "Rows " + (start + 1) + " to " + (start + rows.length) + " of " + shown.length +
        (shown.length < data.rows.length ? " matching (of " + data.rows.length + ")" : "") +
        "; page " + (page + 1) + " of " + pages + "."
      : "No row matches.";
    document.getElementById("page-prev").disabled = page === 0;
    document.getElementById("page-next").disabled = page >= pages - 1;
  }

  text.addEventListener("input", apply);
  column.addEventListener("change", apply);
  document.getElementById("page-prev").addEventListener("click", function () { page -= 1; render(); });
  document.getElementById("page-next").addEventListener("click", function () { page += 1; render(); });
  render();
})();
