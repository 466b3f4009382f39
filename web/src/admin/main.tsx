import { render } from 'preact';
import { Dashboard } from './dashboard.js';
import '../style.css';

const root = document.getElementById('admin');
if (root) render(<Dashboard />, root);
